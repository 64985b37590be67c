"""Settings' signing keys: one per respond.io webhook, kept in the keyring, with the URL to register beside them.

respond.io gives each webhook (one event, one URL) its own signing key; Closeout needs three webhooks, so it
holds three keys. Keys added here are accepted by a running receiver at once.
"""

from __future__ import annotations

from typing_extensions import override

from PySide6.QtGui import QGuiApplication, QShowEvent
from PySide6.QtWidgets import QWidget

from app.domain.errors import CloseoutError
from app.domain.signing_keys import EVENT_LABELS, SigningKey
from app.services.credentials import CredentialService
from app.settings import WEBHOOK_PORT
from ui.compat import asyncSlot
from ui.models.signing_keys_model import SigningKeysModel
from ui.style import needs_input_color
from ui.tasks import OwnedTasks
from ui.views.signing_keys_view import SigningKeysView

INTRO = (
    "In respond.io, Settings > Integrations > Webhooks, add one webhook per event: Conversation Closed, "
    "Conversation Opened and Contact Assignee Updated, each with the URL below (through your tunnel or proxy). "
    "Each webhook shows its own signing key: add each one here under its label."
)
RECEIVER_OFF = "The receiver is off: set a Webhook port below, save, and restart Closeout."


class SigningKeysBox(SigningKeysView):
    """Lists, adds and removes the stored keys through the facade (the keyring is read off the GUI thread)."""

    def __init__(self, credentials: CredentialService, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self._service = credentials
        self.tasks = OwnedTasks("signing-keys")
        self.model = SigningKeysModel(self)
        self.table.setModel(self.model)
        self.table.horizontalHeader().resizeSection(0, 110)
        self.table.horizontalHeader().resizeSection(1, 220)
        self.intro.setText(INTRO)
        for label in EVENT_LABELS:
            self.label.addItem(label)
        self.add.clicked.connect(self._add_clicked)
        self.remove.clicked.connect(self._remove_clicked)
        self.copy.clicked.connect(self.copy_url)

    @override
    def showEvent(self, event: QShowEvent) -> None:
        super().showEvent(event)
        self.show_url()
        # Every time: `closeout-cli webhook-keys` may have changed the keys since Settings was last open.
        self.tasks.spawn(self.reload(), "reload")

    def show_url(self) -> None:
        """The receiver's URL as it runs now, or the one it will have, or why there is none."""
        status_url = self._service.webhook_url
        port = self._service.settings.get(WEBHOOK_PORT)
        url = status_url or (f"http://127.0.0.1:{port}/webhook" if port else "")
        self.url.setText(url)
        self.url.setPlaceholderText(RECEIVER_OFF)
        self.copy.setEnabled(bool(url))

    def copy_url(self) -> None:
        """Put the URL on the clipboard."""
        QGuiApplication.clipboard().setText(self.url.text())
        self._say("Copied the URL. Register it (behind your tunnel's address) for each of the three webhooks.", True)

    async def reload(self) -> list[SigningKey]:
        """Show the stored keys; returns them."""
        keys = await self._service.webhook_keys()
        self.model.replace_all(keys)
        missing = [EVENT_LABELS[label] for label in EVENT_LABELS if label not in {k.label for k in keys}]
        if missing:
            self._say(f"No key yet for: {', '.join(missing)}.", True)
        return keys

    @asyncSlot()
    async def _add_clicked(self) -> None:
        await self.add_key()

    async def add_key(self) -> bool:
        """Keep the pasted key under the chosen label; says where it went, or what is wrong."""
        label, key = self.label.currentText(), self.key.text()
        try:
            where = await self._service.add_webhook_key(label, key)
        except CloseoutError as exc:
            self._say(f"Not added: {exc.message} {exc.action}".strip(), False)
            return False
        except OSError as exc:
            self._say(f"Not added: the key could not be stored ({exc.strerror or exc}).", False)
            return False
        self.key.clear()
        await self.reload()
        place = "the system keyring" if where == "keyring" else f"a file only you can read ({where})"
        # Only a receiver that runs accepts anything: with it off, "accepted now" would send the lead looking elsewhere.
        when = "are accepted now" if self._service.webhook_url else "will be accepted once the receiver runs"
        self._say(f"Added the {label.strip()!r} key to {place}; webhooks signed with it {when}.", True)
        return True

    @asyncSlot()
    async def _remove_clicked(self) -> None:
        await self.remove_selected()

    async def remove_selected(self) -> bool:
        """Forget the selected key."""
        rows = self.table.selectionModel().selectedRows()
        if not rows:
            self._say("Select the key to remove first.", False)
            return False
        label = self.model.label_at(rows[0].row())
        try:
            await self._service.remove_webhook_key(label)
        except OSError as exc:
            self._say(f"Not removed: the keys could not be stored ({exc.strerror or exc}).", False)
            return False
        await self.reload()
        self._say(f"Removed the {label!r} key; webhooks signed with it are refused from now on.", True)
        return True

    def _say(self, text: str, ok: bool) -> None:
        self.message.setText(text)
        self.message.setStyleSheet("" if ok else f"color: {needs_input_color(self.palette()).name()}")
