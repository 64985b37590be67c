"""Ask before an action that changes what the platform does (Stop a published workflow, Undo a run)."""

from __future__ import annotations

from PySide6.QtWidgets import QMessageBox, QWidget

from ui.dialogs.dialog_result import finished


class ConfirmDialog(QMessageBox):
    """The action named on its button, and Cancel as the default."""

    def __init__(self, title: str, text: str, confirm: str, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setIcon(QMessageBox.Icon.Question)
        self.setWindowTitle(title)
        self.setText(text)
        self.confirm_button = self.addButton(confirm, QMessageBox.ButtonRole.AcceptRole)
        self.cancel_button = self.addButton("Cancel", QMessageBox.ButtonRole.RejectRole)
        self.setDefaultButton(self.cancel_button)
        self.setEscapeButton(self.cancel_button)

    @classmethod
    async def ask(cls, parent: QWidget | None, title: str, text: str, confirm: str) -> bool:
        """True when the lead pressed the action's button."""
        dialog = cls(title, text, confirm, parent)
        try:
            await finished(dialog)
            return dialog.clickedButton() is dialog.confirm_button
        finally:
            dialog.deleteLater()
