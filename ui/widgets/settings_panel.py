"""Settings, generated from the declared settings, plus the API token and a connection test in words."""

from __future__ import annotations

import asyncio
from typing import Any

from PySide6.QtCore import Signal
from PySide6.QtGui import QShowEvent
from PySide6.QtWidgets import (
    QCheckBox,
    QDoubleSpinBox,
    QHBoxLayout,
    QLabel,
    QLineEdit,
    QSizePolicy,
    QSpinBox,
    QVBoxLayout,
    QWidget,
)

from app.domain.errors import CloseoutError, ConfigError
from app.domain.secret import Secret
from app.services.connection import api_url_problem, connection_words
from app.services.credentials import CredentialService
from app.settings import API_URL, DB_URL, FORM_SETTINGS, Setting
from ui.compat import asyncSlot
from ui.connection_state import ConnectionState
from ui.style import needs_input_color
from ui.tasks import OwnedTasks
from ui.views.settings_view import SettingsView
from ui.widgets.database_box import DatabaseBox
from ui.widgets.notifications import Notifier
from ui.widgets.signing_keys import SigningKeysBox

RESTART_NOTE = (
    "Saved settings are used the next time Closeout starts. Changing the database location needs a restart, "
    "and so does leaving the demo workspace once a token is saved."
)


class SettingsPanel(SettingsView):
    """One editor per declared setting (label, description as help, bounds), the token, and Test connection."""

    token_saved = Signal(str)

    def __init__(
        self,
        credentials: CredentialService,
        notifier: Notifier,
        connection: ConnectionState | None = None,
        parent: QWidget | None = None,
    ) -> None:
        super().__init__(parent)
        self._service = credentials
        self._notifier = notifier
        self.connection = connection
        self.tasks = OwnedTasks("settings")
        self.settings = credentials.settings
        self.editors: dict[str, QWidget] = {}
        for setting in FORM_SETTINGS:
            self._add_row(setting)
        self.restart_note.setText(RESTART_NOTE)
        self.signing_keys = SigningKeysBox(credentials)
        page = self.widget()
        body = page.layout() if page is not None else None
        assert isinstance(body, QVBoxLayout)
        body.insertWidget(2, self.signing_keys)  # below the connection, above the general settings
        # The database URL's editor moves into a box of its own (SQLite here or a shared PostgreSQL, and Test).
        url_row = self.editors[DB_URL.key].parentWidget()
        assert url_row is not None
        self.database = DatabaseBox(self._line(DB_URL), credentials)
        self.form.setRowVisible(url_row, False)
        body.insertWidget(3, self.database)
        self.save.clicked.connect(self.save_settings)
        self.revert.clicked.connect(self.load_values)
        self.test.clicked.connect(self._test_clicked)
        self.save_token.clicked.connect(self._save_token_clicked)
        self.token.returnPressed.connect(self._test_clicked)
        if connection is not None:
            connection.changed.connect(self._show_mode)
        self._show_mode()
        self.load_values()

    def showEvent(self, event: QShowEvent) -> None:
        """Read the stored token's state each time the page shows (the CLI may have changed it meanwhile).

        Not at construction: reading the keyring costs start-up time, and the page starts hidden.
        """
        super().showEvent(event)
        self.tasks.spawn(self.show_token_state(), "token-state")

    # -- the declared settings -------------------------------------------------------------------------------

    def _add_row(self, setting: Setting[Any]) -> None:
        editor: QWidget
        if setting.kind is bool:
            editor = QCheckBox()
        elif setting.kind is int:
            spin = QSpinBox()
            spin.setRange(
                int(setting.minimum if setting.minimum is not None else -(2**31)),
                int(setting.maximum if setting.maximum is not None else 2**31 - 1),
            )
            spin.setGroupSeparatorShown(True)
            editor = spin
        elif setting.kind is float:
            dspin = QDoubleSpinBox()
            dspin.setDecimals(1)
            dspin.setRange(
                setting.minimum if setting.minimum is not None else -1e9,
                setting.maximum if setting.maximum is not None else 1e9,
            )
            editor = dspin
        else:
            line = QLineEdit()
            if setting.secret:
                line.setEchoMode(QLineEdit.EchoMode.Password)
            if setting is DB_URL:
                line.setPlaceholderText("empty: closeout.sqlite3 in Closeout's data folder")
            editor = line
        editor.setToolTip(setting.description)
        editor.setObjectName(f"setting_{setting.key}")
        help_text = setting.description
        if setting is DB_URL:
            help_text += " Needs a restart."
        if setting.env:
            help_text += f" (Environment variable: {setting.env}.)"
        box = QWidget()
        box.setSizePolicy(QSizePolicy.Policy.Expanding, QSizePolicy.Policy.Preferred)
        column = QVBoxLayout(box)
        column.setContentsMargins(0, 0, 0, 4)
        column.setSpacing(2)
        if isinstance(editor, QLineEdit):
            column.addWidget(editor)
        else:
            row = QHBoxLayout()
            row.addWidget(editor)
            row.addStretch(1)
            column.addLayout(row)
        note = QLabel(help_text)
        note.setWordWrap(True)
        note.setProperty("role", "muted")
        column.addWidget(note)
        label = QLabel(setting.label)
        label.setToolTip(setting.description)
        self.form.addRow(label, box)
        self.editors[setting.key] = editor

    def _line(self, setting: Setting[Any]) -> QLineEdit:
        editor = self.editors[setting.key]
        assert isinstance(editor, QLineEdit)
        return editor

    def load_values(self) -> None:
        """Show the values in force; a value set in the environment is shown but cannot be edited here."""
        for setting in FORM_SETTINGS:
            editor = self.editors[setting.key]
            value = self.settings.get(setting)
            if isinstance(editor, QCheckBox):
                editor.setChecked(bool(value))
            elif isinstance(editor, QSpinBox):
                editor.setValue(int(value))
            elif isinstance(editor, QDoubleSpinBox):
                editor.setValue(float(value))
            elif isinstance(editor, QLineEdit):
                editor.setText(str(value))
            from_env = self.settings.source(setting) == "environment"
            editor.setEnabled(not from_env)
            if from_env:
                editor.setToolTip(f"{setting.description}\nSet by {setting.env}; change it there.")
        self.saved.setText("")

    def value_of(self, setting: Setting[Any]) -> object:
        """What the editor of `setting` holds."""
        editor = self.editors[setting.key]
        if isinstance(editor, QCheckBox):
            return editor.isChecked()
        if isinstance(editor, QSpinBox | QDoubleSpinBox):
            return editor.value()
        assert isinstance(editor, QLineEdit)
        return editor.text()

    def save_settings(self) -> bool:
        """Check every value, then write the settings file; says what is wrong in words if a value is refused."""
        restart = False
        try:
            for setting in FORM_SETTINGS:
                if not self.editors[setting.key].isEnabled():
                    continue
                value = self.value_of(setting)
                if self.settings.get(setting) != setting.parse(value):
                    restart = True
                    self.settings.set(setting, value)
            self.settings.save()
        except ConfigError as exc:
            self.saved.setText(f"Not saved: {exc.message} {exc.action}".strip())
            self.saved.setStyleSheet(f"color: {needs_input_color(self.palette()).name()}")
            return False
        except OSError as exc:
            self.saved.setText(f"Not saved: the settings file could not be written ({exc.strerror or exc}).")
            self.saved.setStyleSheet(f"color: {needs_input_color(self.palette()).name()}")
            return False
        self.saved.setStyleSheet("")
        self.saved.setText("Saved. Restart Closeout to use the new values." if restart else "Saved; nothing changed.")
        return True

    # -- token ---------------------------------------------------------------------------------------------

    async def show_token_state(self) -> None:
        """The stored token's hint (never the token); the keyring is read off the GUI thread."""
        self.token_status.setText("reading the keyring…")
        token = await self._service.stored_token()
        self.token_status.setText(f"{token.hint} (only the last characters are shown)" if token else "none")

    def _show_mode(self, *_: object) -> None:
        """Which workspace is in use and how the connection stands: the same state the status bar shows."""
        if self.connection is None:
            self.mode.setText("Closeout is running the built-in demo workspace." if self._service.is_demo else "")
            return
        self.mode.setText(self.connection.sentence(self._service.is_demo))

    async def _entered_or_stored(self) -> Secret | None:
        text = self.token.text().strip()
        return Secret(text) if text else await self._service.stored_token()

    def _api_url(self) -> str:
        return str(self.value_of(API_URL)).strip() or API_URL.default

    @asyncSlot()
    async def _test_clicked(self) -> None:
        await self.test_connection()

    async def test_connection(self, token: Secret | None = None) -> bool:
        """Ask the platform whether the token works; the answer, naming the URL and the cause, is shown in words."""
        token = token or await self._entered_or_stored()
        if token is None:
            self._show_result(
                False, "There is no token to test. Paste one from respond.io: Settings > Integrations > Developer API."
            )
            return False
        url = self._api_url()
        problem = api_url_problem(url)
        if problem is not None:
            self._show_result(False, problem)
            return False
        self.test.setEnabled(False)
        self.test_result.setStyleSheet("")
        self.test_result.setText(f"Testing the token {token.hint} against {url}…")
        try:
            await self._service.test_connection(token, url)
        except CloseoutError as exc:
            self._show_result(False, connection_words(exc, url))
            return False
        except asyncio.CancelledError:
            raise
        finally:
            self.test.setEnabled(True)
        self._show_result(True, f"Connected: {url} accepted the token {token.hint}.")
        return True

    def _show_result(self, ok: bool, text: str) -> None:
        self.test_result.setText(("✔ " if ok else "✖ ") + text)
        self.test_result.setStyleSheet("" if ok else f"color: {needs_input_color(self.palette()).name()}")

    @asyncSlot()
    async def _save_token_clicked(self) -> None:
        await self.store_token()

    async def store_token(self) -> str | None:
        """Keep the entered token (in the keyring, or a private file); returns where it went."""
        text = self.token.text().strip()
        if not text:
            self._show_result(False, "Paste the new token first.")
            return None
        token = Secret(text)
        if not await self.test_connection(token):  # a token that does not work is not kept
            self.test_result.setText(self.test_result.text() + " The token was not saved.")
            return None
        try:
            where = await self._service.set_token(token)
        except CloseoutError as exc:
            self._show_result(False, f"{exc.message} {exc.action}".strip())
            return None
        except OSError as exc:
            self._show_result(False, f"The token could not be stored ({exc.strerror or exc}).")
            return None
        self.token.clear()
        await self.show_token_state()
        place = "the system keyring" if where == "keyring" else f"a file only you can read ({where})"
        if self._service.is_demo:
            self._show_result(
                True, f"Token {token.hint} tested and saved in {place}. Restart Closeout to leave the demo workspace."
            )
        else:
            self._show_result(True, f"Token {token.hint} tested and saved in {place}; Closeout uses it from now on.")
        self.token_saved.emit(where)
        return where
