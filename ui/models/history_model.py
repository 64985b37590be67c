"""The history table: every assignment change, newest first, loaded page by page as the view scrolls."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from typing_extensions import override

from PySide6.QtCore import Qt

from app.domain.history import AssignmentChange
from ui import formatting
from ui.models.paged_model import PagedTableModel

COLUMNS = ("When", "Contact", "From", "To", "Source", "By", "Outcome", "Reason")
WHEN, CONTACT, FROM, TO, SOURCE, ACTOR, OUTCOME, REASON = range(len(COLUMNS))
STATUS_ROLE = Qt.ItemDataRole.UserRole + 1
CHANGE_ID_ROLE = Qt.ItemDataRole.UserRole + 2


@dataclass(frozen=True, slots=True)
class HistoryEntry:
    """A change and its contact's name (looked up with the page)."""

    change: AssignmentChange
    contact: str


class HistoryModel(PagedTableModel[HistoryEntry]):
    """Display words for each change; agent names come from `set_agent_names`."""

    columns = COLUMNS

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self._agents: dict[int, str] = {}
        self._same_named: set[int] = set()

    def set_same_named(self, workflow_ids: set[int]) -> None:
        """Workflows whose name another one shares: their changes say "(#id)" after the name in By."""
        self._same_named = set(workflow_ids)
        if self.rowCount():
            self.dataChanged.emit(self.index(0, ACTOR), self.index(self.rowCount() - 1, ACTOR))

    def set_agent_names(self, names: dict[int, str]) -> None:
        """Names to show for agent ids."""
        self._agents = dict(names)
        if self.rowCount():
            self.dataChanged.emit(self.index(0, FROM), self.index(self.rowCount() - 1, TO))

    @override
    def cell(self, row: HistoryEntry, column: int, role: int) -> Any:
        change = row.change
        if role == STATUS_ROLE:
            return change.sync_state.value
        if role == CHANGE_ID_ROLE:
            return change.id
        if role not in (Qt.ItemDataRole.DisplayRole, Qt.ItemDataRole.ToolTipRole):
            return None
        if column == WHEN:
            return formatting.when(change.at)
        if column == CONTACT:
            return row.contact
        if column == FROM:
            return formatting.agent_name(change.from_agent_id, self._agents)
        if column == TO:
            return formatting.agent_name(change.to_agent_id, self._agents)
        if column == SOURCE:
            return formatting.source_label(change.source)
        if column == ACTOR:
            if change.workflow_id is not None and change.workflow_id in self._same_named:
                return f"{change.actor} (#{change.workflow_id})"
            return change.actor
        if column == OUTCOME:
            return formatting.SYNC_WORDS.get(change.sync_state, change.sync_state.value)
        if column == REASON:
            return change.reason
        return None
