"""The dialog the excepthook shows for a bug: what happened, where the log is, and the details."""

from __future__ import annotations

from PySide6.QtCore import Qt
from PySide6.QtWidgets import QMessageBox, QWidget


class ErrorDialog(QMessageBox):
    """Non-modal, so a burst of errors never stacks nested event loops."""

    def __init__(self, summary: str, details: str, log_hint: str, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setIcon(QMessageBox.Icon.Critical)
        self.setWindowTitle("Closeout hit a bug")
        self.setText(summary)
        self.setInformativeText(
            f"Closeout keeps running; what was saved is safe. {log_hint} Please report it with the details below."
        )
        self.setDetailedText(details)
        self.setStandardButtons(QMessageBox.StandardButton.Close)

    @classmethod
    def ask(cls, parent: QWidget | None, summary: str, details: str, log_hint: str) -> ErrorDialog:
        """Show the error and return the dialog."""
        dialog = cls(summary, details, log_hint, parent)
        dialog.setAttribute(Qt.WidgetAttribute.WA_DeleteOnClose)
        dialog.show()
        return dialog
