"""The status bar: Online / Offline / Demo / Token rejected, outbox depth, rate-limit budget, last sync, the runner."""

from __future__ import annotations

import time
from typing import TYPE_CHECKING

from PySide6.QtCore import QTimer, Signal

from app.services.connection import ConnectionService, Connectivity
from ui import formatting
from ui.bridge import Bridge
from ui.compat import asyncSlot
from ui.connection_state import ConnectionState
from ui.dialogs.confirm_dialog import ConfirmDialog
from ui.tasks import OwnedTasks
from ui.views.status_bar_view import StatusBarView
from ui.widgets.chip_label import ChipLabel

if TYPE_CHECKING:
    from app.services.connection import SyncStatus

REFRESH_MS = 2_000
SOON_MS = 300


class SyncStatusBar(StatusBarView):
    """Asks the connection service for its status on change-sets (coalesced) and on a slow timer.

    `problem_changed` carries background work's failure in words when it first shows ("" once it is gone),
    so the window can post it as a notice as well.
    """

    problem_changed = Signal(str)

    def __init__(self, service: ConnectionService, bridge: Bridge, connection: ConnectionState | None = None) -> None:
        super().__init__()
        self._service = service
        self.connection = connection or ConnectionState(service, bridge, self)
        self.tasks = OwnedTasks("status")
        self.chip = ChipLabel()
        self.insertWidget(0, self.chip)
        self.connectivity.hide()
        self._other_runner: str | None = None  # the words naming the process that sends, while another one does
        self._runner_state: str | None = None
        self.connection.changed.connect(self._show_connectivity)
        self._show_connectivity(self.connection.state.value, self.connection.detail)
        self._slow = QTimer(self)
        self._slow.setInterval(REFRESH_MS)
        self._slow.timeout.connect(self.refresh)
        self._soon = QTimer(self)
        self._soon.setSingleShot(True)
        self._soon.setInterval(SOON_MS)
        self._soon.timeout.connect(self.refresh)
        self._in_flight = False
        self._problem = ""
        self._runner_where = ""
        self.take_over.clicked.connect(self._take_over)
        bridge.outbox_depth_changed.connect(self._show_depth)
        bridge.changed.connect(self._changed)

    def start(self) -> None:
        """Begin refreshing."""
        self._slow.start()
        self.refresh()

    def stop(self) -> None:
        """Stop refreshing and cancel a refresh in flight."""
        self._slow.stop()
        self._soon.stop()
        self.tasks.cancel_all()

    def _changed(self) -> None:
        if not self._soon.isActive():
            self._soon.start()

    def refresh(self) -> None:
        """Fetch the status now (unless a fetch is already on its way)."""
        if not self._in_flight:
            self._in_flight = True
            self.tasks.spawn(self._refresh(), "refresh")

    async def _refresh(self) -> None:
        try:
            status = await self._service.status()
        finally:
            self._in_flight = False
        self._other_runner, self._runner_state = status.other_runner, status.runner_state
        self.connection.set(status.connectivity, status.detail)
        self._show_connectivity(self.connection.state.value, self.connection.detail)
        self._show_depth(status.outbox_depth, status.backlog)
        budget = status.rate_limit
        if self._service.is_demo:  # the simulated workspace sets no limit
            self.rate.setText("Rate limit: none in the demo")
            self.rate.setToolTip("A real workspace's limit shows here once it is connected.")
        elif budget is None:
            self.rate.setText("Rate limit: not known yet")
            self.rate.setToolTip("")
        else:
            self.rate.setText(f"Rate limit: {budget.remaining:,}/{budget.limit:,} left")
            self.rate.setToolTip(f"{budget.endpoint}, as of {formatting.ago(budget.at)}")
        self.last_sync.setText(f"Last sync: {formatting.ago(status.last_sync, time.time())}")
        self._show_runner(status)
        self._show_problem(status.problem or "")

    def _show_runner(self, status: SyncStatus) -> None:
        """Which computer sends and polls, how recently it said so, and Take over where this one watches."""
        where = runner_where(status)
        self._runner_where = where or ""
        self.runner.setVisible(where is not None)
        watching = where is not None and not status.runner_is_here
        self.take_over.setVisible(watching)
        self.take_over.setEnabled(watching and not status.take_over_asked)
        if where is None:
            return
        if status.runner_is_here:
            self.runner.setText(f"Runner: {where}")
            self.runner.setToolTip(
                "This window sends changes to respond.io and polls it; other Closeout windows on this database watch."
            )
            return
        text = f"Runner: {where}, {formatting.ago(status.runner_renewed_at, time.time())}"
        if status.take_over_asked:
            text += " · handing over to this computer…"
        self.runner.setText(text)
        self.runner.setToolTip(
            "That Closeout sends changes to respond.io and polls it; this window shows what it does. "
            "The time is when it last said it is still running."
        )

    @asyncSlot()
    async def _take_over(self) -> None:
        where = self._runner_where or "the other computer"
        if not await ConfirmDialog.ask(
            self,
            "Take over",
            f"Make this computer the runner? {where[:1].upper()}{where[1:]} finishes what it is sending, then stops; "
            "from then on this window sends to respond.io and polls it, and must stay open for that.",
            "Take over",
        ):
            return
        self.take_over.setEnabled(False)
        await self._service.take_over_runner()
        self.refresh()

    def _show_problem(self, problem: str) -> None:
        self.problem.setText(problem)
        self.problem.setToolTip(problem)
        self.problem.setVisible(bool(problem))
        if problem != self._problem:
            self._problem = problem
            self.problem_changed.emit(problem)

    @property
    def state(self) -> Connectivity:
        """The connection state shown."""
        return self.connection.state

    def _show_connectivity(self, value: str, detail: str = "") -> None:
        state = Connectivity(value)
        if self._other_runner:  # this process only watches: what it would say about the platform is not news
            self.chip.set_status(self._other_runner, "online" if self._runner_state == "Online" else "offline")
            self.chip.setToolTip(f"It says: {self._runner_state}" if self._runner_state else self._other_runner)
            return
        self.chip.set_status(state.label, state.label)
        self.chip.setToolTip(detail or state.label)

    def _show_depth(self, depth: int, backlog: int = 0) -> None:
        text = f"Outbox: {depth:,} to send"
        if backlog:
            text += f" · {backlog:,} arriving"
        self.outbox.setText(text)
        self.outbox.setToolTip("Changes waiting to be sent to the platform; nothing is dropped while offline.")


def runner_where(status: SyncStatus) -> str | None:
    """The computer that runs, as the lead would say it ("this computer", "lead-2"), or None when none does."""
    if status.runner_is_here:
        return "this computer"
    if status.runner_host is None:
        return None
    if status.runner_on_this_computer:
        return f"another Closeout on this computer (pid {status.runner_pid})"
    return status.runner_host
