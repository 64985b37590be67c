"""The main window: navigation, the five pages, the demo banner, notices and the status bar, wired together."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable

from typing_extensions import override

from PySide6.QtCore import QByteArray, QEvent, QSettings, QSize, Qt
from PySide6.QtGui import QCloseEvent, QKeySequence, QShortcut
from PySide6.QtWidgets import QApplication, QLineEdit, QWidget

from app.bootstrap import Supervisor
from app.services.connection import Connectivity
from app.settings import Settings
from ui.bridge import Bridge
from ui.compat import nullable, pending_slot_tasks
from ui.connection_state import ConnectionState
from ui.dialogs.shortcuts_dialog import ShortcutsDialog
from ui.style import app_stylesheet
from ui.tasks import OwnedTasks
from ui.views.main_window_view import HISTORY, PAGES, QUEUE, RUN_LOG, SETTINGS, TEAM, WORKFLOWS, MainWindowView
from ui.views.workflows_view import EDITOR
from ui.widgets.charts import preload_in_background
from ui.widgets.history_panel import HistoryPanel
from ui.widgets.live_queue import LiveQueue
from ui.widgets.notifications import NotificationArea, Notifier
from ui.widgets.run_log import RunLog
from ui.widgets.settings_panel import SettingsPanel
from ui.widgets.status_bar import SyncStatusBar
from ui.widgets.team_page import TeamPage
from ui.widgets.workflows_page import WorkflowsPage

log = logging.getLogger("closeout.ui")

CONNECTIVITY_NOTICE = "connectivity"


def window_settings(settings: Settings) -> QSettings:
    """Window geometry lives beside the settings file, in Closeout's own config folder."""
    return QSettings(str(settings.file_beside("window.ini")), QSettings.Format.IniFormat)


FIRST_SIZE = QSize(1280, 800)
TITLE_BAR = 40  # room left for the window manager's title bar, which the window's own size does not include


def first_size(available: QSize | None) -> QSize:
    """The size of a first start: FIRST_SIZE, shrunk to the screen so the bottom of each page stays visible."""
    if available is None or available.isEmpty():
        return FIRST_SIZE
    return FIRST_SIZE.boundedTo(QSize(available.width(), available.height() - TITLE_BAR))


class MainWindow(MainWindowView):
    """Owns the bridge and the pages; `shutdown` stops every task the window started."""

    def __init__(self, supervisor: Supervisor, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.supervisor = supervisor
        self.bridge = Bridge(supervisor.bus, self)
        self.notifier = Notifier(self)
        self.notifications = NotificationArea(self.notifier, self.page_area)
        # Each page gets the one service it needs, never the Supervisor.
        self.workflows_page = WorkflowsPage(supervisor.workflow_service, self.bridge, self.notifier)
        self.live_queue = LiveQueue(supervisor.queue_service, self.bridge, self.notifier)
        self.history = HistoryPanel(supervisor.history_service, self.bridge, self.notifier)
        self.run_log = RunLog(supervisor.queue_service, self.bridge, self.notifier)
        self.team_page = TeamPage(supervisor.team_service, self.bridge, self.notifier)
        self.connection = ConnectionState(supervisor.connection_service, self.bridge, self)
        self.settings_panel = SettingsPanel(supervisor.credential_service, self.notifier, self.connection)
        self.pages = (
            self.workflows_page,
            self.live_queue,
            self.history,
            self.run_log,
            self.team_page,
            self.settings_panel,
        )
        for page in self.pages:
            self.stack.addWidget(page)
        self.status = SyncStatusBar(supervisor.connection_service, self.bridge, self.connection)
        self.setStatusBar(self.status)
        self.status.problem_changed.connect(self._show_problem)
        self.banner.setVisible(supervisor.is_demo)
        self.banner.connect_button.clicked.connect(lambda: self.show_page(SETTINGS))
        self.nav.currentRowChanged.connect(self._nav_changed)
        for number in range(1, len(PAGES) + 1):
            shortcut = QShortcut(QKeySequence(f"Ctrl+{number}"), self)
            shortcut.activated.connect(lambda page=number - 1: self.show_page(page))
        self._close_confirmed = False
        self._build_menus()
        self.connection.changed.connect(self._connectivity_changed)
        self._closed = asyncio.Event()
        self._tasks = OwnedTasks("window")
        self._apply_style()
        self._restore_geometry()

    def _apply_style(self) -> None:
        app = QApplication.instance()
        palette = app.palette() if isinstance(app, QApplication) else self.palette()
        self.setStyleSheet(app_stylesheet(palette))

    def changeEvent(self, event: QEvent) -> None:
        """Follow a switch of the system palette (light/dark) while running."""
        super().changeEvent(event)
        if event.type() == QEvent.Type.ApplicationPaletteChange:
            self._apply_style()
            self.live_queue.model.restyle(QApplication.palette())

    # -- pages -------------------------------------------------------------------------------------------------

    def _show_problem(self, problem: str) -> None:
        """Post background work's failure once, and take the notice back when the work runs again."""
        if problem:
            self.notifier.warning(problem, key="sync-problem")
        else:
            self.notifier.withdraw("sync-problem")

    def show_page(self, page: int) -> None:
        """Switch to a page (also what Ctrl+1..6 do); leaving unsaved workflow edits asks first."""
        self.nav.setCurrentRow(page)

    def _nav_changed(self, page: int) -> None:
        leaving = self.stack.currentIndex()
        if leaving == WORKFLOWS and page != WORKFLOWS and self._editing_unsaved():
            self._set_nav_quietly(WORKFLOWS)  # stay until the lead has answered
            self._tasks.spawn(self._leave_editor_then(lambda: self._go(page)), "leave-editor")
            return
        self.stack.setCurrentIndex(page)

    def _go(self, page: int) -> None:
        self._set_nav_quietly(page)
        self.stack.setCurrentIndex(page)

    def _set_nav_quietly(self, page: int) -> None:
        blocked = self.nav.blockSignals(True)
        try:
            self.nav.setCurrentRow(page)
        finally:
            self.nav.blockSignals(blocked)

    def _editing_unsaved(self) -> bool:
        page = self.workflows_page
        return page.currentIndex() == EDITOR and page.editor.dirty

    async def _leave_editor_then(self, then: Callable[[], None]) -> None:
        if await self.workflows_page.editor.confirm_leave():
            then()

    # -- menus and shortcuts ---------------------------------------------------------------------------------

    def _build_menus(self) -> None:
        file_menu = self.menuBar().addMenu("&File")
        quit_action = file_menu.addAction("Quit")
        quit_action.setShortcut(QKeySequence("Ctrl+Q"))
        quit_action.setShortcutContext(Qt.ShortcutContext.ApplicationShortcut)
        quit_action.triggered.connect(self.close)
        edit_menu = self.menuBar().addMenu("&Edit")
        save_action = edit_menu.addAction("Save draft")
        save_action.setShortcut(QKeySequence("Ctrl+S"))
        save_action.triggered.connect(self.save_draft)
        find_action = edit_menu.addAction("Find (focus the filter)")
        find_action.setShortcut(QKeySequence("Ctrl+F"))
        find_action.triggered.connect(self.focus_filter)
        help_menu = self.menuBar().addMenu("&Help")
        keys_action = help_menu.addAction("Keyboard shortcuts")
        keys_action.setShortcut(QKeySequence("F1"))
        keys_action.triggered.connect(lambda: ShortcutsDialog.ask(self))
        self.quit_action, self.save_action, self.find_action, self.keys_action = (
            quit_action,
            save_action,
            find_action,
            keys_action,
        )

    def save_draft(self) -> None:
        """Ctrl+S: save the workflow being edited as it is (publishing stays a separate step)."""
        page = self.workflows_page
        if self.current_page == WORKFLOWS and page.currentIndex() == EDITOR:
            self._tasks.spawn(self._save_draft(), "save-draft")
        else:
            self.notifier.info("Ctrl+S saves the workflow open in the editor; no workflow is open.")

    async def _save_draft(self) -> None:
        if await self.workflows_page.editor.save_now() is not None:
            self.notifier.info("Draft saved.")

    def focus_filter(self) -> None:
        """Ctrl+F: put the cursor in the current page's filter."""
        target = {
            QUEUE: self.live_queue.filter,
            HISTORY: self.history.contact,
            RUN_LOG: self.run_log.workflow,
        }.get(self.current_page)
        if target is not None:
            target.setFocus(Qt.FocusReason.ShortcutFocusReason)
        if isinstance(target, QLineEdit):  # the run log's filter is a combo box, with no text to select
            target.selectAll()

    @property
    def current_page(self) -> int:
        """The page shown."""
        return self.stack.currentIndex()

    # -- life cycle ------------------------------------------------------------------------------------------

    def start(self) -> None:
        """Begin live updates (the supervisor is started by the caller)."""
        self.live_queue.start()
        self.status.start()
        preload_in_background()

    def _connectivity_changed(self, value: str, detail: str = "") -> None:
        state = Connectivity(value)
        if state is Connectivity.AUTH_FAILED:
            self.notifier.error(
                "Token rejected: respond.io refused the API token, so nothing is sent until a new one is given. "
                "Paste a valid token in Settings (respond.io: Settings > Integrations > Developer API).",
                key=CONNECTIVITY_NOTICE,
                action_label="Open Settings",
                action=lambda: self.show_page(SETTINGS),
            )
        elif state is Connectivity.OFFLINE:
            self.notifier.warning(
                "Offline: respond.io cannot be reached. Closeout keeps queueing changes and sends them when the "
                "connection is back; nothing is lost.",
                key=CONNECTIVITY_NOTICE,
            )
        elif state is Connectivity.ONLINE:
            self.notifier.withdraw(CONNECTIVITY_NOTICE)

    def _restore_geometry(self) -> None:
        stored = window_settings(self.supervisor.settings)
        geometry = stored.value("geometry")
        if isinstance(geometry, QByteArray) and not geometry.isEmpty():
            self.restoreGeometry(geometry)
        else:
            self.resize(self.default_size())
        page = stored.value("page", WORKFLOWS)
        try:
            self.show_page(int(page))  # type: ignore[call-overload]
        except (TypeError, ValueError):
            self.show_page(WORKFLOWS)

    def default_size(self) -> QSize:
        """The first start's size for this screen, never below the window's minimum."""
        screen = nullable(self.screen()) or nullable(QApplication.primaryScreen())
        return first_size(screen.availableGeometry().size() if screen is not None else None).expandedTo(
            self.minimumSize()
        )

    def save_geometry(self) -> None:
        """Remember the window's size, place and page."""
        stored = window_settings(self.supervisor.settings)
        stored.setValue("geometry", self.saveGeometry())
        stored.setValue("page", self.current_page)
        stored.sync()

    @override
    def closeEvent(self, event: QCloseEvent) -> None:
        if not self._close_confirmed and self._editing_unsaved():
            event.ignore()  # ask first; close again once the edits are saved or discarded
            self._tasks.spawn(self._leave_editor_then(self._close_after_confirming), "close")
            return
        try:
            self.save_geometry()
        except OSError:
            log.warning("could not save the window geometry", exc_info=True)
        self._closed.set()
        super().closeEvent(event)

    def _close_after_confirming(self) -> None:
        self._close_confirmed = True
        self.close()

    async def wait_closed(self) -> None:
        """Return once the window has been closed."""
        await self._closed.wait()

    async def shutdown(self) -> None:
        """Cancel every task the pages and slots started, and stop listening to the core."""
        self.status.stop()
        self.bridge.detach()
        owned = [
            self._tasks,
            self.status.tasks,
            self.live_queue.tasks,
            self.history.tasks,
            self.run_log.tasks,
            self.workflows_page.tasks,
            self.team_page.tasks,
            self.settings_panel.signing_keys.tasks,
            self.settings_panel.tasks,
        ]
        slots = [task for task in pending_slot_tasks() if not task.done()]
        for task in slots:
            task.cancel()
        await asyncio.gather(*(tasks.aclose() for tasks in owned), *slots, return_exceptions=True)


__all__ = ["HISTORY", "QUEUE", "RUN_LOG", "SETTINGS", "TEAM", "WORKFLOWS", "MainWindow", "window_settings"]
