"""The status bar: Online / Offline / Demo / Token rejected, outbox depth, rate-limit budget and last sync."""

from __future__ import annotations

import time

from PySide6.QtCore import QTimer

from app.bootstrap import Connectivity, Supervisor
from ui import formatting
from ui.bridge import Bridge
from ui.tasks import OwnedTasks
from ui.views.status_bar_view import StatusBarView
from ui.widgets.chip_label import ChipLabel

REFRESH_MS = 2_000
SOON_MS = 300


class SyncStatusBar(StatusBarView):
    """Asks the supervisor for its status on change-sets (coalesced) and on a slow timer."""

    def __init__(self, supervisor: Supervisor, bridge: Bridge) -> None:
        super().__init__()
        self._supervisor = supervisor
        self.tasks = OwnedTasks("status")
        self.chip = ChipLabel()
        self.insertWidget(0, self.chip)
        self.connectivity.hide()
        self._other_runner: str | None = None  # the words naming the process that sends, while another one does
        self.state = Connectivity.DEMO if supervisor.is_demo else Connectivity.STARTING
        self._show_connectivity(self.state.value)
        self._slow = QTimer(self)
        self._slow.setInterval(REFRESH_MS)
        self._slow.timeout.connect(self.refresh)
        self._soon = QTimer(self)
        self._soon.setSingleShot(True)
        self._soon.setInterval(SOON_MS)
        self._soon.timeout.connect(self.refresh)
        self._in_flight = False
        bridge.connectivity_changed.connect(self._show_connectivity)
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
            status = await self._supervisor.status()
        finally:
            self._in_flight = False
        self._other_runner = status.other_runner
        if status.other_runner:  # this process only watches: what it would say about the platform is not news
            self.chip.set_status(status.other_runner, "online" if status.runner_state == "Online" else "offline")
            self.chip.setToolTip(f"It says: {status.runner_state}" if status.runner_state else status.other_runner)
        else:
            self._show_connectivity(status.connectivity.value, status.detail)
        self._show_depth(status.outbox_depth, status.backlog)
        budget = status.rate_limit
        if self._supervisor.is_demo:  # the simulated workspace sets no limit
            self.rate.setText("Rate limit: none in the demo")
            self.rate.setToolTip("A real workspace's limit shows here once it is connected.")
        elif budget is None:
            self.rate.setText("Rate limit: not known yet")
            self.rate.setToolTip("")
        else:
            self.rate.setText(f"Rate limit: {budget.remaining:,}/{budget.limit:,} left")
            self.rate.setToolTip(f"{budget.endpoint}, as of {formatting.ago(budget.at)}")
        self.last_sync.setText(f"Last sync: {formatting.ago(status.last_sync, time.time())}")

    def _show_connectivity(self, value: str, detail: str = "") -> None:
        state = Connectivity(value)
        self.state = state
        if self._other_runner:
            return
        self.chip.set_status(state.label, state.label)
        self.chip.setToolTip(detail or state.label)

    def _show_depth(self, depth: int, backlog: int = 0) -> None:
        text = f"Outbox: {depth:,} to send"
        if backlog:
            text += f" · {backlog:,} arriving"
        self.outbox.setText(text)
        self.outbox.setToolTip("Changes waiting to be sent to the platform; nothing is dropped while offline.")

    def show_progress(self, done: int, total: int, text: str = "") -> None:
        """Show a long job's progress (hidden again with `hide_progress`)."""
        self.progress.setMaximum(max(1, total))
        self.progress.setValue(min(done, max(1, total)))
        self.progress.setFormat(text or "%p%")
        self.progress.show()

    def hide_progress(self) -> None:
        """Hide the progress bar."""
        self.progress.hide()
