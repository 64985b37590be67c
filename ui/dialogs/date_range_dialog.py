"""Choose a custom date range for the history (inclusive, local days)."""

from __future__ import annotations

import datetime as dt

from PySide6.QtCore import QDate
from PySide6.QtWidgets import QDateEdit, QDialog, QDialogButtonBox, QFormLayout, QLabel, QWidget

from ui.dialogs.dialog_result import finished


class DateRangeDialog(QDialog):
    """Two calendar fields; the range includes both days."""

    def __init__(self, first: dt.date, last: dt.date, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setWindowTitle("Choose dates")
        form = QFormLayout(self)
        self.first = QDateEdit(QDate(first.year, first.month, first.day))
        self.last = QDateEdit(QDate(last.year, last.month, last.day))
        for field in (self.first, self.last):
            field.setCalendarPopup(True)
            field.setDisplayFormat("d MMM yyyy")
        form.addRow("From", self.first)
        form.addRow("To (included)", self.last)
        self.error = QLabel("")
        self.error.setProperty("role", "missing")
        form.addRow(self.error)
        buttons = QDialogButtonBox(QDialogButtonBox.StandardButton.Ok | QDialogButtonBox.StandardButton.Cancel)
        buttons.accepted.connect(self._check)
        buttons.rejected.connect(self.reject)
        form.addRow(buttons)

    def _check(self) -> None:
        if self.first.date() > self.last.date():
            self.error.setText("The first day must not be after the last.")
            return
        self.accept()

    def chosen(self) -> tuple[dt.date, dt.date]:
        """The first and last day."""
        return self.first.date().toPython(), self.last.date().toPython()  # type: ignore[return-value]

    @classmethod
    async def ask(cls, parent: QWidget | None, first: dt.date, last: dt.date) -> tuple[dt.date, dt.date] | None:
        """The chosen (first, last) days, or None when cancelled."""
        dialog = cls(first, last, parent)
        try:
            if await finished(dialog) != QDialog.DialogCode.Accepted.value:
                return None
            return dialog.chosen()
        finally:
            dialog.deleteLater()
