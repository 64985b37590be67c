"""One step in the editor: Assign To (who and how) or Add Comment (with placeholders)."""

from __future__ import annotations

from dataclasses import replace
from typing import Any

from typing_extensions import override

from PySide6.QtCore import Signal
from PySide6.QtWidgets import (
    QCheckBox,
    QComboBox,
    QFormLayout,
    QFrame,
    QHBoxLayout,
    QLabel,
    QMenu,
    QPlainTextEdit,
    QPushButton,
    QSpinBox,
    QToolButton,
    QVBoxLayout,
    QWidget,
)

from app.domain.workflows import AddCommentStep, AssignAction, AssignLogic, AssignToStep, Step
from ui.combo import current_enum

ACTIONS = (
    (AssignAction.UNASSIGN, "Unassign"),
    (AssignAction.SPECIFIC_USER, "A specific user"),
    (AssignAction.TEAM_USER, "A user in a team"),
    (AssignAction.WORKSPACE_USER, "A user in the workspace"),
)
LOGICS = ((AssignLogic.ROUND_ROBIN, "Round robin"), (AssignLogic.LEAST_OPEN_CONTACTS, "Least open contacts"))
ONLINE_MEANS = (
    "respond.io shares no online status, so “online” means marked available on the Team page "
    "(and inside their working hours, if they have any)."
)
PLACEHOLDERS = ("{{contact.name}}", "{{assignee.name}}", "{{conversation.category}}")


class StepEditor(QFrame):
    """Base of the two step editors: a titled frame with Remove."""

    changed = Signal()
    remove_requested = Signal()

    def __init__(self, title: str, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setProperty("role", "step")
        self.outer = QVBoxLayout(self)
        self.outer.setContentsMargins(10, 8, 10, 8)
        header = QHBoxLayout()
        self.title = QLabel(title)
        self.title.setProperty("role", "section")
        header.addWidget(self.title, 1)
        self.remove = QPushButton("Remove")
        header.addWidget(self.remove)
        self.outer.addLayout(header)
        self.remove.clicked.connect(self.remove_requested)

    def set_number(self, number: int) -> None:
        """Show the step's position."""
        self.title.setText(f"Step {number}: {self.kind}")

    kind = ""

    def step(self) -> Step:
        """The step as the form shows it."""
        raise NotImplementedError

    def mark(self, message: str) -> None:
        """Mark the field a "missing" message names (subclasses know which)."""


class AssignStepEditor(StepEditor):
    """Assign To: unassign, a specific user, a user in a team, or a user in the workspace."""

    kind = "Assign To"

    def __init__(
        self, agents: list[tuple[int, str]], teams: list[tuple[int, str]], parent: QWidget | None = None
    ) -> None:
        super().__init__("Assign To", parent)
        self._original = AssignToStep(AssignAction.UNASSIGN)
        form = QFormLayout()
        self.action = QComboBox()
        for action, label in ACTIONS:
            self.action.addItem(label, action)
        form.addRow("Assign to", self.action)
        self.user = QComboBox()
        self.user.addItem("Choose a user…", None)
        for agent_id, name in agents:
            self.user.addItem(name, agent_id)
        self.user_label = QLabel("User")
        form.addRow(self.user_label, self.user)
        self.team = QComboBox()
        self.team.addItem("Choose a team…", None)
        for team_id, name in teams:
            self.team.addItem(name, team_id)
        self.team_label = QLabel("Team")
        form.addRow(self.team_label, self.team)
        self.logic = QComboBox()
        for logic, label in LOGICS:
            self.logic.addItem(label, logic)
        self.logic_label = QLabel("Pick by")
        form.addRow(self.logic_label, self.logic)
        self.only_online = QCheckBox("Only online users")
        self.only_online.setToolTip(ONLINE_MEANS)
        form.addRow("", self.only_online)
        self.online_note = QLabel(ONLINE_MEANS)
        self.online_note.setWordWrap(True)
        self.online_note.setProperty("role", "muted")
        form.addRow("", self.online_note)
        limit_row = QWidget()
        limit = QHBoxLayout(limit_row)
        limit.setContentsMargins(0, 0, 0, 0)
        self.limit = QCheckBox("Only users with fewer than")
        self.max_open = QSpinBox()
        self.max_open.setRange(1, 10_000)
        self.max_open.setValue(10)
        limit.addWidget(self.limit)
        limit.addWidget(self.max_open)
        limit.addWidget(QLabel("open contacts"))
        limit.addStretch(1)
        self.limit_row = limit_row
        form.addRow("", limit_row)
        self.outer.addLayout(form)
        for combo in (self.action, self.user, self.team, self.logic):
            combo.currentIndexChanged.connect(self._update)
        for box in (self.only_online, self.limit):
            box.toggled.connect(self._update)
        self.max_open.valueChanged.connect(self._update)
        self._sync_visibility()

    def _update(self) -> None:
        self._sync_visibility()
        self.changed.emit()

    def _sync_visibility(self) -> None:
        action = current_enum(self.action, AssignAction)
        self.user.setVisible(action is AssignAction.SPECIFIC_USER)
        self.user_label.setVisible(action is AssignAction.SPECIFIC_USER)
        self.team.setVisible(action is AssignAction.TEAM_USER)
        self.team_label.setVisible(action is AssignAction.TEAM_USER)
        picks = action in (AssignAction.TEAM_USER, AssignAction.WORKSPACE_USER)
        self.logic.setVisible(picks)
        self.logic_label.setVisible(picks)
        assigns = action is not AssignAction.UNASSIGN
        self.only_online.setVisible(assigns)
        self.online_note.setVisible(assigns and self.only_online.isChecked())
        self.limit_row.setVisible(assigns)
        self.max_open.setEnabled(self.limit.isChecked())

    def set_step(self, step: AssignToStep) -> None:
        """Show `step`."""
        self._original = step
        widgets: list[Any] = [
            self.action,
            self.user,
            self.team,
            self.logic,
            self.only_online,
            self.limit,
            self.max_open,
        ]
        for widget in widgets:
            widget.blockSignals(True)
        self.action.setCurrentIndex(max(0, self.action.findData(step.action)))
        self.user.setCurrentIndex(max(0, self.user.findData(step.user_id)) if step.user_id is not None else 0)
        if step.team_id is not None and self.team.findData(step.team_id) < 0:
            self.team.addItem(f"team {step.team_id}", step.team_id)
        self.team.setCurrentIndex(max(0, self.team.findData(step.team_id)) if step.team_id is not None else 0)
        self.logic.setCurrentIndex(max(0, self.logic.findData(step.logic)))
        self.only_online.setChecked(step.only_online)
        self.limit.setChecked(step.max_open_contacts is not None)
        if step.max_open_contacts is not None:
            self.max_open.setValue(max(1, step.max_open_contacts))
        for widget in widgets:
            widget.blockSignals(False)
        self._sync_visibility()

    @override
    def step(self) -> AssignToStep:
        action = current_enum(self.action, AssignAction) or AssignAction.UNASSIGN
        return replace(
            self._original,
            action=action,
            user_id=self.user.currentData() if action is AssignAction.SPECIFIC_USER else None,
            team_id=self.team.currentData() if action is AssignAction.TEAM_USER else None,
            logic=current_enum(self.logic, AssignLogic) or AssignLogic.ROUND_ROBIN,
            only_online=self.only_online.isChecked() if action is not AssignAction.UNASSIGN else False,
            max_open_contacts=self.max_open.value()
            if self.limit.isChecked() and action is not AssignAction.UNASSIGN
            else None,
        )

    @override
    def mark(self, message: str) -> None:
        detail = message.split(":", 1)[-1].strip()
        if detail.startswith(("team", "choose a team")) or " no team " in f" {detail}":
            _set_marked(self.team, True)
            self.team.setToolTip(detail)
        elif "user" in message:
            _set_marked(self.user, True)
        elif "team" in message:
            _set_marked(self.team, True)
        elif "limit" in message:
            _set_marked(self.max_open, True)
        else:
            _set_marked(self, True)

    def unmark(self) -> None:
        """Clear every mark."""
        for widget in (self, self.user, self.team, self.max_open):
            _set_marked(widget, False)


class CommentStepEditor(StepEditor):
    """Add Comment: an internal note, with placeholders for the contact, the assignee and the category."""

    kind = "Add Comment"

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__("Add Comment", parent)
        self.text = QPlainTextEdit()
        self.text.setPlaceholderText("Write the internal comment, e.g. Closed by {{assignee.name}}; unassigned.")
        self.text.setFixedHeight(70)
        self.outer.addWidget(self.text)
        row = QHBoxLayout()
        self.insert = QToolButton()
        self.insert.setText("Insert placeholder ▾")
        self.insert.setPopupMode(QToolButton.ToolButtonPopupMode.InstantPopup)
        menu = QMenu(self)
        for placeholder in PLACEHOLDERS:
            action = menu.addAction(placeholder)
            action.triggered.connect(lambda _=False, p=placeholder: self.text.insertPlainText(p))
        self.insert.setMenu(menu)
        row.addWidget(self.insert)
        row.addStretch(1)
        self.outer.addLayout(row)
        self.text.textChanged.connect(self.changed)

    def set_step(self, step: AddCommentStep) -> None:
        """Show `step`."""
        self.text.blockSignals(True)
        self.text.setPlainText(step.text)
        self.text.blockSignals(False)

    @override
    def step(self) -> AddCommentStep:
        return AddCommentStep(self.text.toPlainText())

    @override
    def mark(self, message: str) -> None:
        _set_marked(self.text, True)

    def unmark(self) -> None:
        """Clear every mark."""
        _set_marked(self.text, False)
        _set_marked(self, False)


def _set_marked(widget: QWidget, marked: bool) -> None:
    if bool(widget.property("needsInput")) != marked:
        widget.setProperty("needsInput", marked)
        widget.style().unpolish(widget)
        widget.style().polish(widget)
        widget.update()


set_marked = _set_marked
