"""Where Closeout stands with the platform and the database: the status bar's figures and the runner role."""

from __future__ import annotations

from typing import TYPE_CHECKING
from urllib.parse import urlsplit

from app.domain.errors import AuthRejected, CloseoutError, NotFound, Offline, PlatformUnavailable, RateLimited
from app.services.core import Service, connected
from app.settings import API_URL
from app.sync.connectivity import Connectivity as Connectivity  # named by ui

if TYPE_CHECKING:
    from app.sync.service import SyncStatus as SyncStatus  # named by ui for types only


class ConnectionService(Service):
    """What the status bar, the window's connection state and `closeout-cli status` show."""

    @connected
    async def status(self) -> SyncStatus:
        """What the status bar shows."""
        return await self._core.sync.status()

    @property
    def api_url(self) -> str:
        """The platform's address in use (after `connect`)."""
        return self._core.sync.client.base_url

    @property
    def database(self) -> str:
        """Where the database is, in words (after `connect`)."""
        return self._core.store.db.where

    @property
    def has_polled(self) -> bool:
        """Whether a poll of the platform has finished since start."""
        sync = self._core.sync_if_open
        return sync is not None and sync.poller.last_at is not None

    @property
    def role_known(self) -> bool:
        """Whether this process knows yet if it is the runner (sends and polls) or watches another one."""
        sync = self._core.sync_if_open
        return sync is not None and sync.role_known

    def sending_elsewhere(self) -> str | None:
        """Words for the status bar when another Closeout process sends and polls for this database, else None.

        For example "Another Closeout on this computer is sending: pid 4242".
        """
        return self._core.sync.runner

    @connected
    async def take_over_runner(self) -> None:
        """Ask the process that sends and polls to hand that role to this one (it does at its next renewal)."""
        await self._core.sync.take_over()


def connection_words(error: CloseoutError, api_url: str) -> str:
    """A failed connection test in words that name the URL and the cause, never an exception class."""
    parts = urlsplit(api_url)
    host = parts.hostname or api_url
    port = parts.port or (443 if parts.scheme == "https" else 80)
    if isinstance(error, AuthRejected):
        return f"{host} refused the token. Paste a valid one (respond.io: Settings > Integrations > Developer API)."
    if isinstance(error, NotFound):
        return f"{api_url} answers, but not as respond.io's API does: is the API URL right (it ends in /v2)?"
    if isinstance(error, Offline):
        if "did not answer within" in error.message:
            return f"{host}:{port} did not answer in time: is the API URL right, and is the network up?"
        return f"Nothing answers at {host}:{port}: is the API URL right?"
    if isinstance(error, RateLimited):
        return f"{host} asks Closeout to slow down (rate limit); try again in a minute."
    if isinstance(error, PlatformUnavailable):
        return f"{host} answered with an error of its own; try again, and check respond.io's status page if it lasts."
    return str(error)


def api_url_problem(api_url: str) -> str | None:
    """Why `api_url` cannot be an API address, in words, or None when it can."""
    parts = urlsplit(api_url.strip())
    if parts.scheme not in ("http", "https") or not parts.hostname:
        return (
            f"“{api_url}” is not a web address: the API URL starts with https:// (respond.io's is {API_URL.default})."
        )
    return None
