"""Ask what to do with a workflow's unsaved edits before leaving the editor or closing the window."""

from __future__ import annotations

from PySide6.QtWidgets import QMessageBox, QWidget

from ui.dialogs.dialog_result import finished

SAVE, DISCARD, CANCEL = "save", "discard", "cancel"


class UnsavedChangesDialog(QMessageBox):
    """Save draft / Discard / Cancel, with Cancel the default so Enter loses nothing."""

    def __init__(self, name: str, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setIcon(QMessageBox.Icon.Warning)
        self.setWindowTitle("Unsaved changes")
        self.setText(f"“{name or 'Untitled workflow'}” has changes that are not saved.")
        self.setInformativeText("Save them as a draft, discard them, or go back to the editor.")
        self.save_button = self.addButton("Save draft", QMessageBox.ButtonRole.AcceptRole)
        self.discard_button = self.addButton("Discard", QMessageBox.ButtonRole.DestructiveRole)
        self.cancel_button = self.addButton("Cancel", QMessageBox.ButtonRole.RejectRole)
        self.setDefaultButton(self.cancel_button)
        self.setEscapeButton(self.cancel_button)

    def choice(self) -> str:
        """Which button closed the dialog (Cancel when it was closed otherwise)."""
        clicked = self.clickedButton()
        if clicked is self.save_button:
            return SAVE
        if clicked is self.discard_button:
            return DISCARD
        return CANCEL

    @classmethod
    async def ask(cls, parent: QWidget | None, name: str) -> str:
        """SAVE, DISCARD or CANCEL."""
        dialog = cls(name, parent)
        try:
            await finished(dialog)
            return dialog.choice()
        finally:
            dialog.deleteLater()
