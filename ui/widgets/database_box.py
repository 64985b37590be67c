"""Settings → Database: this computer's SQLite file or a shared PostgreSQL, with a Test that says what is wrong."""

from __future__ import annotations

from PySide6.QtWidgets import (
    QButtonGroup,
    QGroupBox,
    QHBoxLayout,
    QLabel,
    QLineEdit,
    QPushButton,
    QRadioButton,
    QVBoxLayout,
    QWidget,
)

from app.services.credentials import CredentialService
from ui.compat import asyncSlot
from ui.style import needs_input_color

SHARED_PLACEHOLDER = "postgresql+psycopg://user:password@host:5432/closeout"
RESTART_WORDS = "A saved change of database takes effect when Closeout is restarted."
LOCAL_PLACEHOLDER = "empty: closeout.sqlite3 in Closeout's data folder"
LOCAL_WORDS = "This computer keeps its history in closeout.sqlite3 in Closeout's data folder."


class DatabaseBox(QGroupBox):
    """Chooses where Closeout keeps its data, editing the database URL setting's own line edit.

    The panel keeps reading and saving the URL from `url` as for every other setting; this box only
    offers the two choices a lead understands, and a Test that runs the check off the GUI thread.
    """

    def __init__(self, url: QLineEdit, credentials: CredentialService, parent: QWidget | None = None) -> None:
        super().__init__("Database", parent)
        self.setObjectName("database_box")
        self.url = url
        self._service = credentials
        self.local = QRadioButton("This computer (SQLite)")
        self.shared = QRadioButton("Shared (PostgreSQL)")
        group = QButtonGroup(self)
        for button in (self.local, self.shared):
            group.addButton(button)
        self.test = QPushButton("Test")
        self.test.setObjectName("database_test")
        self.result = QLabel("")
        self.result.setObjectName("database_result")
        self.result.setWordWrap(True)
        note = QLabel(RESTART_WORDS)
        note.setWordWrap(True)
        note.setProperty("role", "muted")
        column = QVBoxLayout(self)
        choices = QHBoxLayout()
        choices.addWidget(self.local)
        choices.addWidget(self.shared)
        choices.addStretch(1)
        column.addLayout(choices)
        line = QHBoxLayout()
        line.addWidget(url, 1)
        line.addWidget(self.test)
        column.addLayout(line)
        column.addWidget(self.result)
        column.addWidget(note)
        self._kept_shared = ""
        self.shared.toggled.connect(self._choice_changed)
        self.url.textChanged.connect(self._follow_text)
        self.test.clicked.connect(self._test_clicked)
        self._follow_text(self.url.text())

    def _follow_text(self, text: str) -> None:
        """Show the choice the URL in force makes (loaded settings, or the environment)."""
        shared = text.strip().startswith("postgresql")
        button = self.shared if shared else self.local
        if not button.isChecked():
            button.blockSignals(True)
            button.setChecked(True)
            button.blockSignals(False)
        self.url.setReadOnly(not shared and not text.strip())
        self.url.setPlaceholderText(
            SHARED_PLACEHOLDER if shared else "empty: closeout.sqlite3 in Closeout's data folder"
        )

    def _choice_changed(self, shared: bool) -> None:
        self.result.setText("")
        if shared:
            self.url.setReadOnly(False)
            self.url.setText(self._kept_shared)
            self.url.setPlaceholderText(SHARED_PLACEHOLDER)
            self.url.setFocus()
        else:
            if self.url.text().strip().startswith("postgresql"):
                self._kept_shared = self.url.text()
            self.url.setText("")

    @asyncSlot()
    async def _test_clicked(self) -> None:
        await self.run_test()

    async def run_test(self) -> bool:
        """Check the URL shown, off the GUI thread, and say what was found in words; True when it can be used."""
        url = self.url.text().strip()
        if not url:
            self._show(True, LOCAL_WORDS)
            return True
        self.test.setEnabled(False)
        self.result.setStyleSheet("")
        self.result.setText("Testing…")
        try:
            found = await self._service.test_database(url)
        finally:
            self.test.setEnabled(True)
        self._show(found.ok, found.message if not found.ok else f"{found.message} {RESTART_WORDS}")
        return found.ok

    def _show(self, ok: bool, words: str) -> None:
        self.result.setStyleSheet("" if ok else f"color: {needs_input_color(self.palette()).name()}")
        self.result.setText(words)
