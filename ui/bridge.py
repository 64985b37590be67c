"""The one adapter from the core's plain-Python change-sets to Qt signals; widgets connect only to these.

The event bus calls its subscribers in the publisher's thread. A change-set that arrives from another thread
is handed to the bridge's own thread through a queued signal first, so every public signal is emitted in
the GUI thread.

Each signal about ids carries, second, who asked for the operation that made the change (`ChangeSet.initiator`,
None for background work): the widget that asked has updated itself from the operation's `OpChanges` and
skips its own echo. A slot that takes the ids alone is called with the ids alone.
"""

from __future__ import annotations

from PySide6.QtCore import QObject, QThread, Signal

from app.events import ChangeSet, EventBus


class Bridge(QObject):
    """Re-emits each ChangeSet as signals, one per kind of thing it touched."""

    closes_changed = Signal(list, object)
    runs_changed = Signal(list, object)
    changes_changed = Signal(list, object)
    commands_changed = Signal(list, object)
    contacts_changed = Signal(list, object)
    workflows_changed = Signal(list, object)
    agents_changed = Signal(object)
    connectivity_changed = Signal(str)
    outbox_depth_changed = Signal(int)
    changed = Signal()
    """Anything at all changed (the status bar refreshes on it)."""

    _arrived = Signal(object)

    def __init__(self, bus: EventBus, parent: QObject | None = None) -> None:
        super().__init__(parent)
        self._bus = bus
        self._arrived.connect(self._dispatch)
        bus.subscribe(self._receive)

    def detach(self) -> None:
        """Stop listening to the bus (the window is going away)."""
        self._bus.unsubscribe(self._receive)

    def _receive(self, change: ChangeSet) -> None:
        if QThread.currentThread() is self.thread():
            self._dispatch(change)
        else:
            self._arrived.emit(change)

    def _dispatch(self, change: ChangeSet) -> None:
        if change.closes:
            self.closes_changed.emit(list(change.closes), change.initiator)
        if change.runs:
            self.runs_changed.emit(list(change.runs), change.initiator)
        if change.changes:
            self.changes_changed.emit(list(change.changes), change.initiator)
        if change.commands:
            self.commands_changed.emit(list(change.commands), change.initiator)
        if change.contacts:
            self.contacts_changed.emit(list(change.contacts), change.initiator)
        if change.workflows:
            self.workflows_changed.emit(list(change.workflows), change.initiator)
        if change.agents_changed:
            self.agents_changed.emit(change.initiator)
        if change.connectivity is not None:
            self.connectivity_changed.emit(change.connectivity)
        if change.outbox_depth is not None:
            self.outbox_depth_changed.emit(change.outbox_depth)
        self.changed.emit()
