"""The API token and the webhook signing keys: kept in the OS keyring, read off the calling thread."""

from __future__ import annotations

import asyncio
import logging
from typing import TYPE_CHECKING

from app import secrets
from app.domain.secret import Secret
from app.domain.signing_keys import SigningKey, signing_key
from app.services.core import Service, connected
from app.settings import WEBHOOK_SECRET, Settings

if TYPE_CHECKING:
    from app.storage.probe import UrlCheck

log = logging.getLogger("closeout")


class CredentialService(Service):
    """What Settings' token box and the signing keys box do."""

    async def test_connection(self, token: Secret, api_url: str | None = None) -> None:
        """Ask the platform whether this token works; raises the platform's error in words if not."""
        async with self._core.client(token, api_url) as client:
            await client.check_connection()

    async def test_database(self, url: str) -> UrlCheck:
        """Try a database URL off the event loop, changing nothing there; says in words what stands in the way."""
        from app.storage.probe import check_url

        return await asyncio.to_thread(check_url, url)

    async def stored_token(self) -> Secret | None:
        """The kept token, read off the calling thread: a keyring's unlock prompt can take minutes."""
        return await asyncio.to_thread(secrets.load_token)

    @connected
    async def set_token(self, token: Secret) -> str:
        """Keep a new token and switch to it (leaving the demo workspace needs a restart); returns where it went."""
        where = await asyncio.to_thread(secrets.store_token, token)
        if not self.is_demo:
            await self._core.sync.set_client(self._core.client(token))
        return where

    @connected
    async def reload_token(self) -> bool:
        """Switch to the stored token if it is not the one in use (another `login` stored it); True if switched."""
        core = self._core
        if core.is_demo:
            return False
        stored = await asyncio.to_thread(secrets.load_token)
        if stored is None or stored == core.token:
            return False
        core.token = stored
        await core.sync.set_client(core.client(stored, core.api_url))
        return True

    @property
    def webhook_url(self) -> str | None:
        """Where the receiver listens now, or None when it is off (or not started yet)."""
        sync = self._core.sync_if_open
        return sync.webhook_url if sync is not None else None

    async def webhook_keys(self) -> list[SigningKey]:
        """The stored webhook signing keys (the keyring is read on a worker thread)."""
        return await asyncio.to_thread(secrets.load_webhook_keys)

    async def add_webhook_key(self, label: str, key: str) -> str:
        """Keep a signing key (replacing the one with its label) and accept it at once; returns where it went."""
        checked = signing_key(label, key)
        where = await asyncio.to_thread(secrets.add_webhook_key, checked)
        await self._refresh_webhook_keys()
        return where

    async def remove_webhook_key(self, label: str) -> bool:
        """Forget the signing key with this label and stop accepting it; False when there was none."""
        removed = await asyncio.to_thread(secrets.remove_webhook_key, label)
        await self._refresh_webhook_keys()
        return removed

    async def _refresh_webhook_keys(self) -> None:
        sync = self._core.sync_if_open
        if sync is not None:
            sync.set_webhook_keys(tuple(await self.webhook_keys()))


def move_settings_key(settings: Settings) -> str | None:
    """Move a signing key typed into Settings' old single-key field from the settings file to the stored keys.

    The form no longer shows that field, so a key left in the file would be accepted but listed and removable
    nowhere. Returns the label it is stored under, or None when there was nothing to move.
    """
    raw = settings.get(WEBHOOK_SECRET)
    if settings.source(WEBHOOK_SECRET) != "file" or not raw.strip():
        return None
    stored = secrets.load_webhook_keys()
    key = signing_key("key" if "key" not in {k.label for k in stored} else "key-from-settings", raw)
    if key.key not in {k.key for k in stored}:
        secrets.add_webhook_key(key)
    settings.reset(WEBHOOK_SECRET)
    settings.save()
    log.info("moved the webhook signing key from the settings file to the stored keys as %r", key.label)
    return key.label
