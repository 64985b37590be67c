"""The settings page's layout: the connection (token, test) and a form generated from the declared settings."""

from __future__ import annotations

from PySide6.QtWidgets import (
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


class SettingsView(QScrollArea):
    """Layout only; `SettingsPanel` adds one row per setting to `form` and the logic."""

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setWidgetResizable(True)
        self.setFrameShape(QScrollArea.Shape.NoFrame)
        body = QWidget()
        layout = QVBoxLayout(body)
        layout.setContentsMargins(0, 0, 8, 0)
        title = QLabel("Settings")
        title.setProperty("role", "title")
        layout.addWidget(title)

        connection = QGroupBox("respond.io connection")
        column = QVBoxLayout(connection)
        self.mode = QLabel("")
        self.mode.setWordWrap(True)
        column.addWidget(self.mode)
        token_form = QFormLayout()
        self.token_status = QLabel("")
        token_form.addRow("Stored token", self.token_status)
        self.token = QLineEdit()
        self.token.setEchoMode(QLineEdit.EchoMode.Password)
        self.token.setPlaceholderText("Paste a new API token (respond.io: Settings > Integrations > Developer API)")
        self.token.setClearButtonEnabled(True)
        token_form.addRow("New token", self.token)
        column.addLayout(token_form)
        buttons = QHBoxLayout()
        self.test = QPushButton("Test connection")
        self.save_token = QPushButton("Save token")
        buttons.addWidget(self.test)
        buttons.addWidget(self.save_token)
        buttons.addStretch(1)
        column.addLayout(buttons)
        self.test_result = QLabel("")
        self.test_result.setWordWrap(True)
        column.addWidget(self.test_result)
        layout.addWidget(connection)

        general = QGroupBox("Settings")
        general_layout = QVBoxLayout(general)
        self.form = QFormLayout()
        self.form.setFieldGrowthPolicy(QFormLayout.FieldGrowthPolicy.ExpandingFieldsGrow)
        general_layout.addLayout(self.form)
        self.restart_note = QLabel("")
        self.restart_note.setWordWrap(True)
        self.restart_note.setProperty("role", "muted")
        general_layout.addWidget(self.restart_note)
        save_row = QHBoxLayout()
        self.save = QPushButton("Save settings")
        self.revert = QPushButton("Revert")
        save_row.addWidget(self.save)
        save_row.addWidget(self.revert)
        save_row.addStretch(1)
        general_layout.addLayout(save_row)
        self.saved = QLabel("")
        self.saved.setWordWrap(True)
        general_layout.addWidget(self.saved)
        layout.addWidget(general)
        layout.addStretch(1)
        self.setWidget(body)
