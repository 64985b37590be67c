"""A run's detail: the close it ran on, its outcome and reason, and the changes it made."""

from __future__ import annotations

import html
from typing import Any

from PySide6.QtCore import Qt
from PySide6.QtWidgets import QDialog, QDialogButtonBox, QFormLayout, QLabel, QVBoxLayout, QWidget

from ui import formatting
from ui.models.run_log_model import run_status
from ui.widgets.chip_label import ChipLabel


class RunDetailDialog(QDialog):
    """Shows a `RunDetail` (non-modal, so the queue keeps moving behind it)."""

    def __init__(self, detail: Any, agent_names: dict[int, str], parent: QWidget | None = None) -> None:
        super().__init__(parent)
        run = detail.run
        self.setWindowTitle(f"Run {run.id}")
        self.setMinimumWidth(520)
        layout = QVBoxLayout(self)
        form = QFormLayout()
        self.outcome = ChipLabel()
        self.outcome.set_status(run_status(run))
        form.addRow("Outcome", self.outcome)
        reason = QLabel(run.reason)
        reason.setWordWrap(True)
        reason.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)
        form.addRow("Reason", reason)
        workflow = detail.workflow
        form.addRow("Workflow", QLabel(f"{workflow.name} (version {run.workflow_version})" if workflow else "deleted"))
        form.addRow("Started", QLabel(formatting.when(run.started_at)))
        close = detail.close
        if close is not None:
            form.addRow("Contact", QLabel(f"{close.contact.name} (id {close.contact.id})"))
            form.addRow("Closed", QLabel(formatting.when(close.closed_time)))
            form.addRow("Closed by", QLabel(formatting.closed_by(close)))
            form.addRow("Category", QLabel(close.category or formatting.NONE))
            assignee = close.assignee_at_close.name if close.assignee_at_close else "unassigned"
            form.addRow("Assignee at close", QLabel(assignee))
        else:
            form.addRow("Contact", QLabel(f"id {run.contact_id}"))
        layout.addLayout(form)
        changes = QLabel(self._changes_text(detail.changes, agent_names))
        changes.setWordWrap(True)
        changes.setTextFormat(Qt.TextFormat.RichText)
        layout.addWidget(changes)
        self.runs = QLabel(self._runs_text(detail))
        self.runs.setWordWrap(True)
        self.runs.setTextFormat(Qt.TextFormat.RichText)
        layout.addWidget(self.runs)
        buttons = QDialogButtonBox(QDialogButtonBox.StandardButton.Close)
        buttons.rejected.connect(self.reject)
        layout.addWidget(buttons)

    @staticmethod
    def _changes_text(changes: Any, names: dict[int, str]) -> str:
        if not changes:
            return "<i>This run changed no assignment.</i>"
        lines = ["<b>Assignment changes</b><ul>"]
        for change in changes:
            lines.append(
                f"<li>{formatting.when(change.at)}: {formatting.agent_name(change.from_agent_id, names)} → "
                f"{formatting.agent_name(change.to_agent_id, names)} "
                f"({formatting.SYNC_WORDS.get(change.sync_state, change.sync_state.value)})</li>"
            )
        lines.append("</ul>")
        return "".join(lines)

    @staticmethod
    def _runs_text(detail: Any) -> str:
        runs = getattr(detail, "close_runs", ())
        if len(runs) < 2:
            return ""
        names = getattr(detail, "workflow_names", {})
        lines = [f"<b>Every run on this close ({len(runs)})</b><ul>"]
        for run in runs:
            name = names.get(run.workflow_id, f"workflow {run.workflow_id}")
            mark = " <i>(this run)</i>" if run.id == detail.run.id else ""
            lines.append(
                f"<li>{formatting.when(run.started_at)} · run {run.id} · {html.escape(name)} "
                f"(version {run.workflow_version}): <b>{run_status(run)}</b> — {html.escape(run.reason)}{mark}</li>"
            )
        lines.append("</ul>")
        return "".join(lines)

    @classmethod
    def ask(cls, parent: QWidget | None, detail: Any, agent_names: dict[int, str]) -> RunDetailDialog:
        """Show the detail next to the window and return the dialog."""
        dialog = cls(detail, agent_names, parent)
        dialog.setAttribute(Qt.WidgetAttribute.WA_DeleteOnClose)
        dialog.show()
        return dialog
