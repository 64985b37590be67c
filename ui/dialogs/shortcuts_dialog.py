"""Help > Keyboard shortcuts: every shortcut the window answers to, in one list."""

from __future__ import annotations

from PySide6.QtCore import Qt
from PySide6.QtWidgets import QDialog, QDialogButtonBox, QLabel, QVBoxLayout, QWidget

from ui.views.main_window_view import PAGES

SHORTCUTS: tuple[tuple[str, str], ...] = (
    *((f"Ctrl+{number}", f"Show {name}") for number, name in enumerate(PAGES, 1)),
    ("Ctrl+F", "Focus the filter of the page shown (Live queue, History, Run log)"),
    ("Ctrl+S", "Save the workflow open in the editor as a draft"),
    ("Ctrl+Q", "Quit (unsaved workflow edits are asked about first)"),
    ("F1", "This list"),
)


class ShortcutsDialog(QDialog):
    """A table of shortcuts; non-modal."""

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setWindowTitle("Keyboard shortcuts")
        layout = QVBoxLayout(self)
        rows = "".join(f"<tr><td><b>{keys}</b>&nbsp;&nbsp;</td><td>{what}</td></tr>" for keys, what in SHORTCUTS)
        self.table = QLabel(f"<table cellpadding='3'>{rows}</table>")
        self.table.setTextFormat(Qt.TextFormat.RichText)
        layout.addWidget(self.table)
        buttons = QDialogButtonBox(QDialogButtonBox.StandardButton.Close)
        buttons.rejected.connect(self.reject)
        layout.addWidget(buttons)

    @classmethod
    def ask(cls, parent: QWidget | None) -> ShortcutsDialog:
        """Show the list and return the dialog."""
        dialog = cls(parent)
        dialog.setAttribute(Qt.WidgetAttribute.WA_DeleteOnClose)
        dialog.show()
        return dialog
