"""The Team page's table: each agent from the cache, their availability toggle, working hours and state now."""

from __future__ import annotations

from typing import Any

from typing_extensions import override

from PySide6.QtCore import Qt, Signal

from app.domain.availability import Presence
from app.services.team import TeamMember
from ui.models.table_model import Index, RowTableModel

COLUMNS = ("Agent", "Team", "Available", "Working hours", "Now")
AGENT, TEAM, AVAILABLE, HOURS, NOW = range(len(COLUMNS))
AGENT_ID_ROLE = Qt.ItemDataRole.UserRole + 1
ANY_TIME = "any time"


class TeamModel(RowTableModel[TeamMember]):
    """Read-mostly: a toggle or an edit asks for the change by signal, and the row changes once it is saved."""

    columns = COLUMNS
    presence_requested = Signal(int, bool)
    """(agent id, available): the lead flipped the toggle."""
    hours_requested = Signal(int, str)
    """(agent id, text as typed): the lead edited the working hours; empty clears them."""

    def update_member(self, member: TeamMember) -> None:
        """Refresh one agent's row after a change was saved."""
        for row, current in enumerate(self._rows):
            if current.agent.id == member.agent.id:
                self._rows[row] = member
                self.dataChanged.emit(self.index(row, 0), self.index(row, len(COLUMNS) - 1))
                return

    def member_at(self, row: int) -> TeamMember:
        """The member shown on `row`."""
        return self._rows[row]

    @override
    def flags(self, index: Index) -> Qt.ItemFlag:
        base = super().flags(index)
        if not index.isValid():
            return base
        if index.column() == AVAILABLE:
            return base | Qt.ItemFlag.ItemIsUserCheckable
        if index.column() == HOURS:
            return base | Qt.ItemFlag.ItemIsEditable
        return base

    def cell(self, row: TeamMember, column: int, role: int) -> Any:
        """Words for each column; the toggle as a check state."""
        availability = row.availability
        if role == AGENT_ID_ROLE:
            return row.agent.id
        if role == Qt.ItemDataRole.CheckStateRole and column == AVAILABLE:
            on = row.set_by_lead and availability.presence is Presence.AVAILABLE
            return Qt.CheckState.Checked if on else Qt.CheckState.Unchecked
        if role == Qt.ItemDataRole.EditRole and column == HOURS:
            return availability.hours.describe() if availability.hours else ""
        if role == Qt.ItemDataRole.ToolTipRole and column == AVAILABLE and not row.set_by_lead:
            return "Not set yet: counts as away until you mark the agent available."
        if column == AGENT and role in (Qt.ItemDataRole.DisplayRole, Qt.ItemDataRole.ToolTipRole):
            # The tooltip too: in a narrow window the column elides the email, which tells two Anas apart.
            return f"{row.agent.name} ({row.agent.email})" if row.agent.email else row.agent.name
        if role != Qt.ItemDataRole.DisplayRole:
            return None
        if column == TEAM:
            return row.agent.team.name if row.agent.team else "—"
        if column == AVAILABLE:
            return availability.presence.value if row.set_by_lead else "not set"
        if column == HOURS:
            return availability.hours.describe() if availability.hours else ANY_TIME
        return "available now" if row.available_now else "not now"

    @override
    def setData(self, index: Index, value: Any, role: int = Qt.ItemDataRole.EditRole) -> bool:
        if not index.isValid() or not 0 <= index.row() < len(self._rows):
            return False
        agent_id = self._rows[index.row()].agent.id
        if index.column() == AVAILABLE and role == Qt.ItemDataRole.CheckStateRole:
            checked = value in (Qt.CheckState.Checked, Qt.CheckState.Checked.value)
            self.presence_requested.emit(agent_id, checked)
            return True
        if index.column() == HOURS and role == Qt.ItemDataRole.EditRole:
            text = str(value or "").strip()
            self.hours_requested.emit(agent_id, "" if text.lower() == ANY_TIME else text)
            return True
        return False
