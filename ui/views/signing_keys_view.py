"""The layout of the signing keys box in Settings: the URL to register, the keys, and a row to add one."""

from __future__ import annotations

from PySide6.QtWidgets import (
    QAbstractItemView,
    QComboBox,
    QGroupBox,
    QHBoxLayout,
    QLabel,
    QLineEdit,
    QPushButton,
    QTableView,
    QVBoxLayout,
    QWidget,
)


class SigningKeysView(QGroupBox):
    """Layout only; `SigningKeysBox` adds the logic."""

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__("Webhooks and their signing keys", parent)
        column = QVBoxLayout(self)
        self.intro = QLabel("")
        self.intro.setWordWrap(True)
        self.intro.setProperty("role", "muted")
        column.addWidget(self.intro)
        url_row = QHBoxLayout()
        url_row.addWidget(QLabel("URL to register"))
        self.url = QLineEdit()
        self.url.setReadOnly(True)
        self.url.setObjectName("webhook_url")
        url_row.addWidget(self.url, 1)
        self.copy = QPushButton("Copy")
        url_row.addWidget(self.copy)
        column.addLayout(url_row)
        self.table = QTableView()
        self.table.setSelectionBehavior(QAbstractItemView.SelectionBehavior.SelectRows)
        self.table.setSelectionMode(QAbstractItemView.SelectionMode.SingleSelection)
        self.table.verticalHeader().hide()
        self.table.horizontalHeader().setStretchLastSection(True)
        self.table.setMaximumHeight(150)
        column.addWidget(self.table)
        add_row = QHBoxLayout()
        self.label = QComboBox()
        self.label.setEditable(True)
        self.label.setToolTip("The event the key belongs to: closed, opened or assignee (or a word of your own).")
        add_row.addWidget(self.label)
        self.key = QLineEdit()
        self.key.setEchoMode(QLineEdit.EchoMode.Password)
        self.key.setPlaceholderText("Paste the signing key respond.io shows for this webhook")
        self.key.setClearButtonEnabled(True)
        add_row.addWidget(self.key, 1)
        self.add = QPushButton("Add key")
        add_row.addWidget(self.add)
        self.remove = QPushButton("Remove selected")
        add_row.addWidget(self.remove)
        column.addLayout(add_row)
        self.message = QLabel("")
        self.message.setWordWrap(True)
        column.addWidget(self.message)
