"""The workflow editor's layout: name, trigger and conditions, steps, settings, and the actions."""

from __future__ import annotations

from PySide6.QtWidgets import (
    QCheckBox,
    QComboBox,
    QFormLayout,
    QGroupBox,
    QHBoxLayout,
    QLabel,
    QLineEdit,
    QPushButton,
    QScrollArea,
    QVBoxLayout,
    QWidget,
)

from ui.widgets.reserved_label import ReservedLabel


class WorkflowEditorView(QWidget):
    """Layout only; `WorkflowEditor` fills the condition and step lists and holds the logic."""

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        outer = QVBoxLayout(self)
        outer.setContentsMargins(0, 0, 0, 0)
        header = QHBoxLayout()
        self.header_row = header
        self.back = QPushButton("← Workflows")
        header.addWidget(self.back)
        self.title = QLabel("Workflow")
        self.title.setProperty("role", "title")
        header.addWidget(self.title, 1)
        self.state = QLabel("")
        header.addWidget(self.state)
        outer.addLayout(header)

        scroll = QScrollArea()
        scroll.setWidgetResizable(True)
        scroll.setFrameShape(QScrollArea.Shape.NoFrame)
        body = QWidget()
        layout = QVBoxLayout(body)
        layout.setContentsMargins(0, 0, 8, 0)

        self.missing = ReservedLabel(2)  # always there, so filling a field never moves the form
        self.missing.setProperty("role", "missing")
        layout.addWidget(self.missing)

        form = QFormLayout()
        self.name = QLineEdit()
        self.name.setPlaceholderText("Give the workflow a name")
        form.addRow("Name", self.name)
        layout.addLayout(form)

        trigger = QGroupBox("Trigger")
        trigger_layout = QVBoxLayout(trigger)
        trigger_row = QHBoxLayout()
        trigger_row.addWidget(QLabel("When"))
        self.trigger = QComboBox()
        trigger_row.addWidget(self.trigger)
        trigger_row.addSpacing(16)
        self.join_label = QLabel("and")
        trigger_row.addWidget(self.join_label)
        self.join = QComboBox()
        trigger_row.addWidget(self.join)
        trigger_row.addStretch(1)
        trigger_layout.addLayout(trigger_row)
        self.conditions = QVBoxLayout()
        trigger_layout.addLayout(self.conditions)
        self.no_conditions = QLabel("No conditions: every event of this kind starts the workflow.")
        self.no_conditions.setProperty("role", "muted")
        trigger_layout.addWidget(self.no_conditions)
        add_row = QHBoxLayout()
        self.add_condition = QPushButton("+ Add condition")
        add_row.addWidget(self.add_condition)
        add_row.addStretch(1)
        trigger_layout.addLayout(add_row)
        layout.addWidget(trigger)

        self.steps_box = QGroupBox("Steps")
        steps_layout = QVBoxLayout(self.steps_box)
        self.steps = QVBoxLayout()
        steps_layout.addLayout(self.steps)
        self.no_steps = QLabel("No steps yet: add one.")
        self.no_steps.setProperty("role", "muted")
        steps_layout.addWidget(self.no_steps)
        step_buttons = QHBoxLayout()
        self.add_assign = QPushButton("+ Assign To")
        self.add_comment = QPushButton("+ Add Comment")
        step_buttons.addWidget(self.add_assign)
        step_buttons.addWidget(self.add_comment)
        step_buttons.addStretch(1)
        steps_layout.addLayout(step_buttons)
        layout.addWidget(self.steps_box)

        settings = QGroupBox("Settings")
        settings_layout = QVBoxLayout(settings)
        self.once_per_contact = QCheckBox("Trigger once per contact")
        self.once_per_contact.setToolTip("Run only on a contact's first matching event, never again.")
        settings_layout.addWidget(self.once_per_contact)
        self.warning = ReservedLabel(2)
        self.warning.setProperty("role", "warning")
        settings_layout.addWidget(self.warning)
        self.verify = QCheckBox("Verify before unassign")
        self.verify.setToolTip(
            "Before unassigning, check on the platform that the contact still has the agent it had at close, "
            "so a fresh assignment is never clobbered."
        )
        settings_layout.addWidget(self.verify)
        layout.addWidget(settings)
        layout.addStretch(1)
        scroll.setWidget(body)
        outer.addWidget(scroll, 1)

        actions = QHBoxLayout()
        self.save = QPushButton("Save")
        self.publish = QPushButton("Publish")
        self.stop = QPushButton("Stop")
        actions.addWidget(self.save)
        actions.addWidget(self.publish)
        actions.addWidget(self.stop)
        actions.addStretch(1)
        actions.addWidget(QLabel("Dry run over"))
        self.dry_run_period = QComboBox()
        actions.addWidget(self.dry_run_period)
        self.dry_run = QPushButton("Dry run")
        actions.addWidget(self.dry_run)
        outer.addLayout(actions)
