"""What the facade's services share: the settings, the bus and, once connected, the store and the sync service.

The services are the facade's parts, one concern each; the Supervisor builds them on one `Core` and hands each
widget the one it needs. Only the services and the Supervisor see the core: a widget never does.
"""

from __future__ import annotations

import asyncio
import functools
from collections.abc import Awaitable, Callable, Sequence
from typing import TYPE_CHECKING, Concatenate, ParamSpec, TypeVar

from app.domain.people import Agent
from app.domain.secret import Secret
from app.domain.workflows import Workflow
from app.events import ChangeSet, EventBus
from app.settings import API_URL, RATE_LIMIT_PER_S, REQUEST_TIMEOUT_S, Settings

if TYPE_CHECKING:
    from app.platform.client import PlatformClient
    from app.storage.store import Store
    from app.sync.service import SyncService

P = ParamSpec("P")
T = TypeVar("T")
S = TypeVar("S", bound="Service")


class Core:
    """The state behind every service; `connect` attaches the store and the sync service."""

    def __init__(self, settings: Settings, bus: EventBus, *, demo: bool, token: Secret | None, api_url: str | None):
        """Nothing is open yet: the store and the sync service come with `attach`."""
        self.settings = settings
        self.bus = bus
        self.is_demo = demo
        self.token = token
        self.api_url = api_url
        self.started = False
        self.categories: tuple[str, ...] | None = None
        self._store: Store | None = None
        self._sync: SyncService | None = None
        self._connected = asyncio.Event()
        self._agents: dict[int, Agent] = {}
        bus.subscribe(self._on_change)

    def attach(self, store: Store, sync: SyncService) -> None:
        """Take the opened store and the sync service built on it."""
        self._store, self._sync = store, sync

    def mark_connected(self) -> None:
        """Let the operations waiting in `wait_connected` run."""
        self._connected.set()

    async def wait_connected(self) -> None:
        """Return once the Supervisor has connected."""
        await self._connected.wait()

    @property
    def store(self) -> Store:
        """The local database (after `connect`)."""
        if self._store is None:
            raise RuntimeError("the supervisor is not connected yet")
        return self._store

    @property
    def sync(self) -> SyncService:
        """The sync service (after `connect`)."""
        if self._sync is None:
            raise RuntimeError("the supervisor is not connected yet")
        return self._sync

    @property
    def store_if_open(self) -> Store | None:
        """The store, or None before `connect`."""
        return self._store

    @property
    def sync_if_open(self) -> SyncService | None:
        """The sync service, or None before `connect`."""
        return self._sync

    def client(self, token: Secret, api_url: str | None = None) -> PlatformClient:
        """A platform client for `token` with the settings' pace and timeout."""
        from app.platform.client import PlatformClient

        return PlatformClient(
            api_url or self.settings.get(API_URL),
            token,
            rate_limit=self.settings.get(RATE_LIMIT_PER_S),
            timeout=self.settings.get(REQUEST_TIMEOUT_S),
        )

    async def agents(self) -> dict[int, Agent]:
        """The cached agents by id, read again after a change-set says they changed."""
        if not self._agents:
            self._agents = {a.id: a for a in await self.store.db.read(self.store.cache.agents)}
        return self._agents

    def _on_change(self, change: ChangeSet) -> None:
        if change.agents_changed:
            self._agents.clear()
            self.categories = None


def connected(method: Callable[Concatenate[S, P], Awaitable[T]]) -> Callable[Concatenate[S, P], Awaitable[T]]:
    """Make an operation wait until the supervisor has connected (the window may ask before that)."""

    @functools.wraps(method)
    async def wait_then_run(self: S, /, *args: P.args, **kwargs: P.kwargs) -> T:
        await self._core.wait_connected()
        return await method(self, *args, **kwargs)

    return wait_then_run


class Service:
    """One concern of the facade, on the shared core, with the look-ups every page names things with."""

    def __init__(self, core: Core) -> None:
        """Built by the Supervisor."""
        self._core = core

    @property
    def settings(self) -> Settings:
        """The settings the app runs with."""
        return self._core.settings

    @property
    def is_demo(self) -> bool:
        """True on the built-in demo workspace."""
        return self._core.is_demo

    @connected
    async def agents(self) -> dict[int, Agent]:
        """The cached agents by id."""
        return await self._core.agents()

    @connected
    async def contact_names(self, contact_ids: Sequence[int]) -> dict[int, str]:
        """Display names of the cached contacts among `contact_ids` (tables show names, not ids)."""
        store = self._core.store
        found = await store.db.read(store.cache.contacts, list(contact_ids))
        return {contact_id: contact.name for contact_id, contact in found.items()}

    @connected
    async def workflows(self) -> list[Workflow]:
        """Every workflow, oldest first (the pages' workflow filters name them)."""
        store = self._core.store
        return await store.db.read(store.workflows.all)
