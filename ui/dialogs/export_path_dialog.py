"""Ask where to save the CSV export."""

from __future__ import annotations

from pathlib import Path

from PySide6.QtWidgets import QDialog, QFileDialog, QWidget

from ui.dialogs.dialog_result import finished


class ExportPathDialog(QFileDialog):
    """A save-file dialog for CSV files."""

    def __init__(self, suggested: Path, parent: QWidget | None = None) -> None:
        super().__init__(parent, "Export history as CSV", str(suggested), "CSV files (*.csv)")
        self.setAcceptMode(QFileDialog.AcceptMode.AcceptSave)
        self.setDefaultSuffix("csv")

    @classmethod
    async def ask(cls, parent: QWidget | None, suggested: Path) -> Path | None:
        """The chosen path, or None when cancelled."""
        dialog = cls(suggested, parent)
        try:
            if await finished(dialog) != QDialog.DialogCode.Accepted.value:
                return None
            files = dialog.selectedFiles()
            return Path(files[0]) if files else None
        finally:
            dialog.deleteLater()
