"""The live queue: closes stream in, newest first, each with its outcome chip, Undo and the run's detail.

At hundreds of closes a second the change-sets are coalesced on a short timer, the rows they name are read
in one query off the GUI thread, and the model takes them in one insert. The model keeps the newest rows only.
"""

from __future__ import annotations

import asyncio
import logging

from PySide6.QtCore import QItemSelection, QModelIndex, QSortFilterProxyModel, Qt
from PySide6.QtWidgets import QAbstractItemView, QWidget

from app.domain.errors import CloseoutError
from app.services.queue import QueueService
from ui.bridge import Bridge
from ui.coalescer import Coalescer
from ui.compat import asyncSlot
from ui.dialogs.confirm_dialog import ConfirmDialog
from ui.dialogs.run_detail_dialog import RunDetailDialog
from ui.models import queue_model
from ui.models.queue_model import QueueModel
from ui.tasks import OwnedTasks
from ui.views.live_queue_view import LiveQueueView
from ui.widgets.column_fit import Column, ColumnFitter
from ui.widgets.notifications import Notifier

log = logging.getLogger("closeout.ui.queue")

FLUSH_MS = 150
FIRST_LOAD = 300
MAX_BATCH = 2_000
MERGE_SLICE = 20  # rows merged per turn of the event loop


class LiveQueue(LiveQueueView):
    """Owns the queue model and keeps it current from the bridge's signals."""

    def __init__(self, queue: QueueService, bridge: Bridge, notifier: Notifier, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self._service = queue
        self._notifier = notifier
        self.tasks = OwnedTasks("queue")
        self.model = QueueModel(parent=self)
        self.proxy = QSortFilterProxyModel(self)
        self.proxy.setSourceModel(self.model)
        self.proxy.setFilterCaseSensitivity(Qt.CaseSensitivity.CaseInsensitive)
        self.proxy.setFilterKeyColumn(queue_model.TIME)
        self.proxy.setFilterRole(queue_model.SEARCH_ROLE)
        self.table.setModel(self.proxy)
        self.table.setEditTriggers(QAbstractItemView.EditTrigger.NoEditTriggers)  # a double-click opens the run
        q = queue_model
        self.fitter = ColumnFitter(
            self.table,
            (
                Column(q.TIME, 90, 66, priority=1),  # "08:36:05" or "30 Nov" whole (formatting.short_when)
                Column(q.CONTACT, 150, 100, priority=0),
                Column(q.CHANNEL, 110, 60, priority=5),
                Column(q.CLOSED_BY, 170, 80, priority=3),
                Column(q.CATEGORY, 130, 80, priority=4),
                Column(q.ASSIGNEE, 140, 80, priority=2),
                Column(q.ACTION, 60, 56, key=True),
            ),
            stretch=q.OUTCOME,
            stretch_minimum=280,  # the chip and enough of the reason to read it; every column fits at 1024 px
        )

        self._closes = Coalescer(FLUSH_MS, self._flush, self)
        self._loaded = False
        self._arrived = 0
        bridge.closes_changed.connect(self._closes_changed)
        bridge.runs_changed.connect(self._runs_changed)
        self.filter.textChanged.connect(self._filter_changed)
        self.pause.toggled.connect(self._pause_toggled)
        self.table.doubleClicked.connect(self._open_detail)
        self.table.clicked.connect(self._clicked)
        self.table.selectionModel().selectionChanged.connect(self._selection_changed)
        self.undo.clicked.connect(self._undo_selected)

    # -- loading -------------------------------------------------------------------------------------------

    def start(self) -> None:
        """Load the newest closes; later ones stream in."""
        self.tasks.spawn(self._first_load(), "first-load")

    async def _first_load(self) -> None:
        self._closes.hold()
        try:
            rows = await self._service.queue(FIRST_LOAD)
            self.model.replace_all(rows)
            self._loaded = True
        finally:
            if not self.paused:
                self._closes.release()
        self._update_summary()

    @property
    def paused(self) -> bool:
        """Whether new closes are held back."""
        return self.pause.isChecked()

    def _closes_changed(self, ids: list[int]) -> None:
        self._closes.add(ids)
        if self.paused:
            self._update_summary()

    def _runs_changed(self, run_ids: list[int], initiator: object = None) -> None:
        # A run changed (synced, failed, undone): refresh its close's row if it is shown. An undo from this
        # page has already asked for its rows, from what the operation returned.
        if initiator is self:
            return
        ids = self.model.close_ids_for_runs(run_ids)
        if ids:
            self._closes.add(ids)

    def _flush(self, ids: set[int]) -> None:
        if not ids:
            return
        if len(ids) > MAX_BATCH:  # far behind (e.g. after a long pause): only the newest can be shown anyway
            ids = set(sorted(ids, reverse=True)[:MAX_BATCH])
        self._closes.hold()
        self.tasks.spawn(self._fetch(ids), "flush")

    async def _fetch(self, ids: set[int]) -> None:
        try:
            rows = await self._service.queue_rows(sorted(ids))
            for start in range(0, len(rows), MERGE_SLICE):
                if start:
                    await asyncio.sleep(0)  # let the loop draw and take input between slices
                anchor = self._row_under_pointer()
                self._arrived += self.model.merge(rows[start : start + MERGE_SLICE])
                self._keep_in_place(anchor)
        finally:
            if not self.paused:
                self._closes.release()
        self._update_summary()

    def _row_under_pointer(self) -> int | None:
        """The close shown at the top of the list while the pointer is over it (new rows must not push it down)."""
        viewport = self.table.viewport()
        if not viewport.underMouse() or self.proxy.rowCount() == 0:
            return None
        top = self.table.rowAt(0)
        if top < 0:
            return None
        return self.model.row_at(self.proxy.mapToSource(self.proxy.index(top, 0)).row()).close.id

    def _keep_in_place(self, close_id: int | None) -> None:
        """Scroll so the close that was on top is on top again: rows inserted above it stay out of sight."""
        if close_id is None:
            return
        for row in range(self.proxy.rowCount()):
            source = self.proxy.mapToSource(self.proxy.index(row, 0)).row()
            if self.model.row_at(source).close.id == close_id:
                if self.table.rowAt(0) != row:
                    self.table.scrollTo(self.proxy.index(row, 0), QAbstractItemView.ScrollHint.PositionAtTop)
                return

    def _pause_toggled(self, paused: bool) -> None:
        if paused:
            self._closes.hold()
            self.pause.setText("Resume")
        else:
            self.pause.setText("Pause")
            self._closes.release()
            self._closes.poke()
        self._update_summary()

    def _filter_changed(self, text: str) -> None:
        self.proxy.setFilterFixedString(text)
        self._update_summary()

    def _update_summary(self) -> None:
        total = self.model.rowCount()
        filtered = bool(self.filter.text().strip())
        text = f"{self.proxy.rowCount():,} of {total:,} closes" if filtered else f"{total:,} closes"
        if self.paused:
            arrived = self.arrived_while_paused()
            text += f" · paused, {arrived:,} new {'close' if arrived == 1 else 'closes'} waiting"
        self.summary.setText(text)
        if (queue_model.CHANNEL in self.fitter.kept_hidden) == self.model.has_channels:
            self.fitter.set_kept_hidden(queue_model.CHANNEL, not self.model.has_channels)

    @property
    def idle(self) -> bool:
        """No refresh waits or is in flight."""
        return self._closes.idle

    def arrived_while_paused(self) -> int:
        """Closes that came in while paused and are not shown yet (changes to shown rows do not count)."""
        return sum(1 for close_id in self._closes.pending_ids() if not self.model.shows(close_id))

    # -- actions -------------------------------------------------------------------------------------------

    def _source_row(self, index: QModelIndex) -> int | None:
        if not index.isValid():
            return None
        return self.proxy.mapToSource(index).row()

    def _selection_changed(self, selected: QItemSelection, deselected: QItemSelection) -> None:
        rows = self.table.selectionModel().selectedRows()
        row = self._source_row(rows[0]) if rows else None
        self.undo.setEnabled(row is not None and queue_model.undoable(self.model.row_at(row)))

    def _clicked(self, index: QModelIndex) -> None:
        if index.column() == queue_model.ACTION:
            row = self._source_row(index)
            if row is not None and queue_model.undoable(self.model.row_at(row)):
                self.undo_row(row)

    def _undo_selected(self) -> None:
        rows = self.table.selectionModel().selectedRows()
        row = self._source_row(rows[0]) if rows else None
        if row is not None:
            self.undo_row(row)

    def undo_row(self, row: int) -> None:
        """Undo the run shown at model row `row`."""
        shown = self.model.row_at(row)
        if shown.run is not None and shown.run.id is not None and shown.close.id is not None:
            self._undo(shown.run.id, shown.close.id)

    @asyncSlot(int, int)
    async def _undo(self, run_id: int, close_id: int) -> None:
        row = next(
            (self.model.row_at(r) for r in range(self.model.rowCount()) if self.model.row_at(r).close.id == close_id),
            None,
        )
        who = row.close.assignee_at_close.name if row and row.close.assignee_at_close else "the agent it had at close"
        contact = row.close.contact.name if row else "the contact"
        if not await ConfirmDialog.ask(
            self, "Undo", f"Give {contact} back to {who}? Closeout sends the change to respond.io.", "Undo"
        ):
            return
        try:
            done = await self._service.undo(run_id, initiator=self)
        except CloseoutError as exc:
            self._notifier.error(exc)
            return
        undo_run = done.result
        if undo_run.id is not None:
            self.model.track_run(undo_run.id, close_id)
        self._closes.add(self.model.close_ids_for_runs(done.changes.runs) | {close_id})
        self._notifier.info(f"Undo queued: {undo_run.reason}.")

    @asyncSlot(QModelIndex)
    async def _open_detail(self, index: QModelIndex) -> None:
        row = self._source_row(index)
        if row is None:
            return
        run = self.model.row_at(row).run
        if run is None or run.id is None:
            self._notifier.info("No workflow ran on this close, so there is no run to show.")
            return
        try:
            detail = await self._service.run_detail(run.id)
            names = {agent_id: agent.name for agent_id, agent in (await self._service.agents()).items()}
        except CloseoutError as exc:
            self._notifier.error(exc)
            return
        RunDetailDialog.ask(self, detail, names)
