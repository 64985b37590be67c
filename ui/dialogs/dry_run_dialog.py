"""A dry run's result: counts by outcome and every past close with what would have happened to it."""

from __future__ import annotations

from typing import Any

from PySide6.QtCore import Qt
from PySide6.QtWidgets import (
    QAbstractItemView,
    QDialog,
    QDialogButtonBox,
    QHBoxLayout,
    QLabel,
    QTableView,
    QVBoxLayout,
    QWidget,
)

from app.domain.workflows import RunOutcome
from ui.models import dry_run_model
from ui.models.dry_run_model import DryRunModel
from ui.widgets.chip_label import ChipLabel
from ui.widgets.delegates import ChipDelegate

OUTCOME_LABELS = dry_run_model.DRY_RUN_WORDS
CHIP_STATUS = {
    RunOutcome.DONE: "done",
    RunOutcome.SKIPPED: "skipped",
    RunOutcome.FAILED: "failed",
    RunOutcome.WAITING: "waiting",
}


class DryRunDialog(QDialog):
    """Shows a `DryRunReport`; nothing was written to the platform or the history."""

    def __init__(self, report: Any, period: str, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setWindowTitle(f"Dry run: {report.workflow_name}")
        self.resize(820, 520)
        layout = QVBoxLayout(self)
        summary = QLabel(f"Over {period}: {report.summary()} Nothing was sent to respond.io.")
        summary.setWordWrap(True)
        layout.addWidget(summary)
        counts = QHBoxLayout()
        self.count_chips: dict[RunOutcome, ChipLabel] = {}
        for outcome, number in report.counts.items():
            chip = ChipLabel()
            chip.set_status(f"{number:,} {OUTCOME_LABELS[outcome]}", CHIP_STATUS[outcome])
            self.count_chips[outcome] = chip
            counts.addWidget(chip)
        counts.addStretch(1)
        layout.addLayout(counts)
        self.model = DryRunModel(report.rows, self)
        self.table = QTableView()
        self.table.setModel(self.model)
        self.table.setSelectionBehavior(QAbstractItemView.SelectionBehavior.SelectRows)
        self.table.setAlternatingRowColors(True)
        self.table.verticalHeader().hide()
        self.table.horizontalHeader().setStretchLastSection(True)
        self.table.setItemDelegateForColumn(dry_run_model.OUTCOME, ChipDelegate(dry_run_model.STATUS_ROLE, self.table))
        self.table.resizeColumnsToContents()
        layout.addWidget(self.table, 1)
        buttons = QDialogButtonBox(QDialogButtonBox.StandardButton.Close)
        buttons.rejected.connect(self.reject)
        layout.addWidget(buttons)

    @classmethod
    def ask(cls, parent: QWidget | None, report: Any, period: str) -> DryRunDialog:
        """Show the report (non-modal) and return the dialog."""
        dialog = cls(report, period, parent)
        dialog.setAttribute(Qt.WidgetAttribute.WA_DeleteOnClose)
        dialog.show()
        return dialog
