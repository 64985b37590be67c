"""The signing keys table in Settings: each key's label, the respond.io event it belongs to, and a hint."""

from __future__ import annotations

from typing import Any

from PySide6.QtCore import Qt

from app.domain.signing_keys import SigningKey
from ui.models.table_model import RowTableModel

COLUMNS = ("Label", "respond.io webhook event", "Key")
LABEL, EVENT, KEY = range(len(COLUMNS))


class SigningKeysModel(RowTableModel[SigningKey]):
    """Never shows a key: only its last four characters."""

    columns = COLUMNS

    def label_at(self, row: int) -> str:
        """The label on `row`."""
        return self._rows[row].label

    def cell(self, row: SigningKey, column: int, role: int) -> Any:
        """Label, event and hint."""
        if role == Qt.ItemDataRole.ToolTipRole and column == KEY:
            return "Only the last characters are shown; the key itself stays in the keyring."
        if role != Qt.ItemDataRole.DisplayRole:
            return None
        if column == LABEL:
            return row.label
        if column == EVENT:
            return row.event
        return row.key.hint
