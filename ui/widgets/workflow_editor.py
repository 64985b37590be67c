"""The workflow editor: trigger, conditions, steps and settings, with the fields that need input marked in red.

Save, Publish (which lists what is missing when it is refused), Stop, and Dry run over the cached past.
"""

from __future__ import annotations

import logging
import time
from dataclasses import replace
from typing import Any

from PySide6.QtCore import Signal
from PySide6.QtWidgets import QWidget

from app.domain.errors import CloseoutError, PublishBlocked
from app.domain.people import Agent
from app.domain.workflows import (
    AddCommentStep,
    AssignAction,
    AssignToStep,
    Condition,
    ConditionField,
    ConditionOperator,
    Join,
    Step,
    Trigger,
    TriggerKind,
    Workflow,
    WorkflowSettings,
    WorkflowState,
)
from app.services.workflows import WorkflowService, unknown_references
from ui import formatting
from ui.combo import current_enum
from ui.compat import asyncSlot
from ui.dialogs.confirm_dialog import ConfirmDialog
from ui.dialogs.dry_run_dialog import DryRunDialog
from ui.dialogs.unsaved_changes_dialog import DISCARD, SAVE, UnsavedChangesDialog
from ui.views.workflow_editor_view import WorkflowEditorView
from ui.widgets.chip_label import ChipLabel
from ui.widgets.condition_row import ConditionRow, source_options
from ui.widgets.notifications import Notifier
from ui.widgets.step_editor import AssignStepEditor, CommentStepEditor, StepEditor, set_marked

log = logging.getLogger("closeout.ui.editor")

DAY = 86_400
TRIGGERS = (
    (TriggerKind.CONVERSATION_CLOSED, "Conversation Closed"),
    (TriggerKind.CONVERSATION_OPENED, "Conversation Opened"),
)
PERIODS = ((7, "the last 7 days"), (30, "the last 30 days"))
PUBLISH_NOTICE = "publish"


class WorkflowEditor(WorkflowEditorView):
    """Edits one workflow; `closed` when the lead goes back to the gallery."""

    closed = Signal()
    saved = Signal(object)

    def __init__(self, workflows: WorkflowService, notifier: Notifier, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self._service = workflows
        self._notifier = notifier
        self.workflow: Workflow | None = None
        self.condition_rows: list[ConditionRow] = []
        self.step_editors: list[StepEditor] = []
        self._options: dict[ConditionField, list[tuple[str, str]]] = source_options()
        self._agents: list[tuple[int, str]] = []
        self._teams: list[tuple[int, str]] = []
        self._loading = False
        self._agent_map: dict[int, Agent] = {}
        self.dirty = False
        self.missing_now: tuple[str, ...] = ()
        self.state_chip = ChipLabel()
        self.state.hide()
        self.header_row.addWidget(self.state_chip)

        for kind, label in TRIGGERS:
            self.trigger.addItem(label, kind)
        self.join.addItem("all conditions (AND)", Join.AND)
        self.join.addItem("any condition (OR)", Join.OR)
        for days, label in PERIODS:
            self.dry_run_period.addItem(label, days)

        self.back.clicked.connect(self._back_clicked)
        self.name.textChanged.connect(self._changed)
        self.trigger.currentIndexChanged.connect(self._trigger_changed)
        self.join.currentIndexChanged.connect(self._changed)
        self.once_per_contact.toggled.connect(self._changed)
        self.verify.toggled.connect(self._changed)
        self.add_condition.clicked.connect(self._add_condition_clicked)
        self.add_assign.clicked.connect(lambda: self._add_step(AssignToStep(AssignAction.UNASSIGN)))
        self.add_comment.clicked.connect(lambda: self._add_step(AddCommentStep("")))
        self.save.clicked.connect(self._save_clicked)
        self.publish.clicked.connect(self._publish_clicked)
        self.stop.clicked.connect(self._stop_clicked)
        self.dry_run.clicked.connect(self._dry_run_clicked)

    # -- loading ---------------------------------------------------------------------------------------------

    async def open_workflow(self, workflow: Workflow) -> None:
        """Load the workspace's agents, teams and categories, then show `workflow`."""
        agents = await self._service.agents()
        self._agent_map = dict(agents)
        categories = await self._service.recent_categories()
        self._agents = sorted(((a.id, a.name) for a in agents.values()), key=lambda p: p[1].lower())
        teams = {a.team.id: a.team.name for a in agents.values() if a.team is not None}
        self._teams = sorted(teams.items(), key=lambda p: p[1].lower())
        people = [(str(agent_id), name) for agent_id, name in self._agents]
        self._options.update(
            {
                ConditionField.CLOSED_BY_USER: people,
                ConditionField.ASSIGNEE_AT_CLOSE: people,
                ConditionField.ASSIGNEE_TEAM: [(name, name) for _, name in self._teams],
                ConditionField.CATEGORY: [(c, c) for c in categories],
                ConditionField.CONTACT_TAG: [],
            }
        )
        self.show_workflow(workflow)

    def show_workflow(self, workflow: Workflow) -> None:
        """Fill the form from `workflow`."""
        self._loading = True
        try:
            self.workflow = workflow
            self.name.setText(workflow.name)
            self.trigger.setCurrentIndex(max(0, self.trigger.findData(workflow.trigger.kind)))
            self.join.setCurrentIndex(max(0, self.join.findData(workflow.trigger.join)))
            for row in list(self.condition_rows):
                self._remove_condition(row, update=False)
            for condition in workflow.trigger.conditions:
                self._add_condition(condition)
            for editor in list(self.step_editors):
                self._remove_step(editor, update=False)
            for step in workflow.steps:
                self._add_step(step, update=False)
            self.once_per_contact.setChecked(workflow.settings.trigger_once_per_contact)
            self.verify.setChecked(workflow.settings.verify_before_unassign)
        finally:
            self._loading = False
        self.dirty = False
        self._refresh()

    # -- the form ------------------------------------------------------------------------------------------------

    def form_workflow(self) -> Workflow:
        """The workflow as the form shows it (fields the form does not edit are kept)."""
        base = self.workflow or Workflow("", Trigger(TriggerKind.CONVERSATION_CLOSED))
        return replace(
            base,
            name=self.name.text(),
            trigger=Trigger(
                current_enum(self.trigger, TriggerKind) or base.trigger.kind,
                tuple(row.condition() for row in self.condition_rows),
                current_enum(self.join, Join) or Join.AND,
            ),
            steps=tuple(editor.step() for editor in self.step_editors),
            settings=WorkflowSettings(
                trigger_once_per_contact=self.once_per_contact.isChecked(),
                verify_before_unassign=self.verify.isChecked(),
            ),
        )

    def _kind(self) -> TriggerKind:
        return current_enum(self.trigger, TriggerKind) or TriggerKind.CONVERSATION_CLOSED

    def _trigger_changed(self) -> None:
        kind = self._kind()
        for row in self.condition_rows:
            row.set_trigger(kind)
        self._changed()

    def _add_condition_clicked(self) -> None:
        kind = self._kind()
        field = (
            ConditionField.CLOSED_BY_SOURCE
            if kind is TriggerKind.CONVERSATION_CLOSED
            else ConditionField.OPENED_BY_SOURCE
        )
        self._add_condition(Condition(field, ConditionOperator.IS, ()))
        self._changed()

    def _add_condition(self, condition: Condition) -> ConditionRow:
        row = ConditionRow(self._options)
        row.set_condition(condition, self._kind())
        row.changed.connect(self._changed)
        row.remove_requested.connect(lambda: self._remove_condition(row))
        self.conditions.addWidget(row)
        self.condition_rows.append(row)
        return row

    def _remove_condition(self, row: ConditionRow, update: bool = True) -> None:
        self.condition_rows.remove(row)
        self.conditions.removeWidget(row)
        row.deleteLater()
        if update:
            self._changed()

    def _add_step(self, step: Step, update: bool = True) -> StepEditor:
        editor: StepEditor
        if isinstance(step, AssignToStep):
            assign = AssignStepEditor(self._agents, self._teams)
            assign.set_step(step)
            editor = assign
        else:
            comment = CommentStepEditor()
            comment.set_step(step)
            editor = comment
        editor.changed.connect(self._changed)
        editor.remove_requested.connect(lambda: self._remove_step(editor))
        self.steps.addWidget(editor)
        self.step_editors.append(editor)
        if update:
            self._changed()
        return editor

    def _remove_step(self, editor: StepEditor, update: bool = True) -> None:
        self.step_editors.remove(editor)
        self.steps.removeWidget(editor)
        editor.deleteLater()
        if update:
            self._changed()

    def _changed(self, *_: Any) -> None:
        if self._loading:
            return
        # Unsaved means different from what is stored: a toggle put back is no change.
        self.dirty = self.workflow is None or self.form_workflow() != self.workflow
        self._refresh()

    def _refresh(self) -> None:
        workflow = self.form_workflow()
        self.missing_now = self._service.missing_fields(workflow) + unknown_references(workflow, self._agent_map)
        self.show_missing(self.missing_now)
        if not self.missing_now:
            self._notifier.withdraw(PUBLISH_NOTICE)  # "cannot be published yet" no longer holds
        warnings = self._service.warnings(workflow)
        self.warning.setText("⚠ " + " ".join(warnings) if warnings else "")
        unassigns = any(
            isinstance(step, AssignToStep) and step.action is AssignAction.UNASSIGN for step in workflow.steps
        )
        self.verify.setVisible(unassigns)  # the last row of its box: hiding it moves nothing
        replays = workflow.trigger.kind is TriggerKind.CONVERSATION_CLOSED
        self.dry_run.setEnabled(replays)
        self.dry_run.setToolTip(
            "Replay this workflow over the closes Closeout recorded, changing nothing"
            if replays
            else "A dry run replays past closes, so it is for Conversation Closed workflows only"
        )
        for number, editor in enumerate(self.step_editors, 1):
            editor.set_number(number)
        self.no_conditions.setVisible(not self.condition_rows)
        self.join.setVisible(len(self.condition_rows) > 1)
        self.join_label.setVisible(len(self.condition_rows) > 1)
        self.no_steps.setVisible(not self.step_editors)
        state = workflow.state
        label = formatting.STATE_WORDS[state] + (" · unsaved changes" if self.dirty else "")
        self.state_chip.set_status(label, state.value)
        self.title.setText(workflow.name.strip() or "Untitled workflow")
        self.stop.setEnabled(state is WorkflowState.PUBLISHED)
        self.publish.setText("Publish changes" if state is WorkflowState.PUBLISHED else "Publish")
        self.publish.setEnabled(state is not WorkflowState.PUBLISHED or self.dirty)

    def show_missing(self, missing: tuple[str, ...]) -> None:
        """List what needs input above the form and mark each field in red."""
        for widget in (self.name, self.steps_box):
            set_marked(widget, False)
        for row in self.condition_rows:
            set_marked(row.values.text, False)
        for editor in self.step_editors:
            editor.unmark()  # type: ignore[attr-defined]
        for message in missing:
            target, number = self._target(message)
            if target == "name":
                set_marked(self.name, True)
            elif target == "steps":
                set_marked(self.steps_box, True)
            elif target == "condition" and 0 < number <= len(self.condition_rows):
                set_marked(self.condition_rows[number - 1].values.text, True)
            elif target == "step" and 0 < number <= len(self.step_editors):
                self.step_editors[number - 1].mark(message)
        self.missing.setProperty("role", "missing" if missing else "muted")
        self.missing.style().polish(self.missing)
        if missing:
            self.missing.setText("<b>Needs input before publishing:</b> " + "; ".join(missing))
        else:
            self.missing.setText("✔ Nothing needs input: this workflow can be published.")

    @staticmethod
    def _target(message: str) -> tuple[str, int]:
        head = message.split(":", 1)[0]
        words = head.split()
        if head.startswith("Name"):
            return "name", 0
        if head.startswith("Steps"):
            return "steps", 0
        if words and words[0] in ("Condition", "Step") and len(words) > 1 and words[1].isdigit():
            return words[0].lower(), int(words[1])
        return "", 0

    # -- leaving ---------------------------------------------------------------------------------------------

    @asyncSlot()
    async def _back_clicked(self) -> None:
        if await self.confirm_leave():
            self.closed.emit()

    async def confirm_leave(self) -> bool:
        """Whether the editor may be left: True at once when nothing is unsaved, else as the lead answers."""
        if not self.dirty:
            return True
        choice = await UnsavedChangesDialog.ask(self, self.name.text().strip())
        if choice == SAVE:
            return await self.save_now() is not None
        if choice == DISCARD:
            if self.workflow is not None:
                self.show_workflow(self.workflow)
            self.dirty = False
            return True
        return False

    # -- actions ---------------------------------------------------------------------------------------------

    async def save_now(self) -> Workflow | None:
        """Store the form; returns the saved workflow (None if refused, with the reason shown)."""
        try:
            saved = (await self._service.save_workflow(self.form_workflow(), initiator=self)).result
        except CloseoutError as exc:
            self._notifier.error(exc)
            return None
        self.workflow = saved
        self.dirty = False
        self._refresh()
        self.saved.emit(saved)
        await self._warn_if_name_taken(saved)
        return saved

    async def _warn_if_name_taken(self, saved: Workflow) -> None:
        others = [
            w
            for w in await self._service.workflows()
            if w.id != saved.id and w.name.strip().lower() == saved.name.strip().lower()
        ]
        if others:
            names = ", ".join(f"#{w.id} ({formatting.STATE_WORDS[w.state].lower()})" for w in others)
            self._notifier.warning(
                f"Another workflow is also called “{saved.name}”: {names}. Lists tell them apart by number and "
                "version; a name of its own makes it clearer.",
                key="duplicate-name",
            )

    @asyncSlot()
    async def _save_clicked(self) -> None:
        if await self.save_now() is not None:
            self._notifier.info("Saved.")

    @asyncSlot()
    async def _publish_clicked(self) -> None:
        await self.publish_now()

    async def publish_now(self) -> Workflow | None:
        """Save, then publish; when refused, the missing fields are listed and marked."""
        saved = (
            await self.save_now() if self.dirty or self.workflow is None or self.workflow.id is None else self.workflow
        )
        if saved is None or saved.id is None:
            return None
        try:
            published = (await self._service.publish(saved.id, initiator=self)).result
        except PublishBlocked as exc:
            self.show_missing(exc.missing)
            self._notifier.error(exc, key=PUBLISH_NOTICE)
            return None
        except CloseoutError as exc:
            self._notifier.error(exc)
            return None
        self._notifier.withdraw(PUBLISH_NOTICE)
        self.workflow = published
        self.dirty = False
        self._refresh()
        self.saved.emit(published)
        self._notifier.info(
            f"“{published.name}” is published (version {published.version}); it runs on the next event."
        )
        if published.id is not None:
            for warning in await self._service.overlap_warnings(published.id):
                self._notifier.warning(warning)
        return published

    @asyncSlot()
    async def _stop_clicked(self) -> None:
        if self.workflow is None or self.workflow.id is None:
            return
        if not await ConfirmDialog.ask(
            self, "Stop workflow", f"Stop “{self.workflow.name}”? It no longer runs on new events.", "Stop"
        ):
            return
        try:
            stopped = (await self._service.stop_workflow(self.workflow.id, initiator=self)).result
        except CloseoutError as exc:
            self._notifier.error(exc)
            return
        self.workflow = stopped
        self._refresh()
        self.saved.emit(stopped)
        self._notifier.info(f"“{stopped.name}” is stopped; its runs and history stay.")

    @asyncSlot()
    async def _dry_run_clicked(self) -> None:
        await self.dry_run_now()

    async def dry_run_now(self) -> DryRunDialog | None:
        """Replay the form's workflow over the chosen period and show what it would have done."""
        days = int(self.dry_run_period.currentData())
        self.dry_run.setEnabled(False)
        self.dry_run.setText("Running…")
        try:
            report = await self._service.dry_run(self.form_workflow(), time.time() - days * DAY)
        except CloseoutError as exc:
            self._notifier.error(exc)
            return None
        finally:
            self.dry_run.setEnabled(True)
            self.dry_run.setText("Dry run")
        return DryRunDialog.ask(self, report, self.dry_run_period.currentText())
