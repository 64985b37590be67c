"""The Supervisor: the one object the GUI and the CLI open, and the services it hands out.

It opens the store, builds the platform client (or the built-in demo workspace when there is no token) and
runs the sync service. What a team lead does is split by concern into services (`app.services`), each
widget getting the one it needs:

- `workflow_service`: the gallery, drafts, publish and stop, import/export, the dry run;
- `queue_service`: the live queue, the run log, a run's detail and undo;
- `history_service`: the history's pages, counts, charts, export and filter look-ups;
- `team_service`: the agents and the availability the lead keeps;
- `connection_service`: the status bar's figures and the runner role;
- `credential_service`: the API token and the webhook signing keys.

Operations that change something return `OpChanges` (the result, and the change-set with who asked), so
the widget that asked refreshes once. Changes reach listeners as change-sets on `bus`.

Opening happens in two steps so the desktop app can show its window first: `prepare` decides the workspace
(token or demo) without touching the disk, and `connect` opens the database and builds the client and the
sync service. Storage (SQLAlchemy), the client (httpx) and sync are imported by `connect`, not with this
module: together they are most of Closeout's start-up time. An operation called before `connect` has
finished waits for it. `Supervisor.open` does both steps.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, TypedDict, Unpack

from app import secrets
from app.domain.availability import zone_named
from app.domain.errors import ConfigError
from app.domain.queue import QueueRow
from app.domain.secret import Secret
from app.domain.signing_keys import SigningKey
from app.engine.catalog import Template
from app.engine.dry_run import DryRunReport
from app.events import ChangeSet, EventBus, OpChanges
from app.services.connection import ConnectionService, api_url_problem, connection_words
from app.services.core import Core
from app.services.credentials import CredentialService, move_settings_key
from app.services.history import HistoryService
from app.services.queue import QueueService, RunDetail
from app.services.team import TeamMember, TeamService
from app.services.workflows import WorkflowService, unknown_references
from app.settings import DB_URL, LEASE_SECONDS, POLL_SECONDS, TIME_ZONE, WEBHOOK_PORT, WEBHOOK_SECRET, Settings
from app.sync.connectivity import Connectivity

if TYPE_CHECKING:
    from collections.abc import Callable

    from app.demo import DemoWorkspace
    from app.storage.copy import CopyResult
    from app.storage.copy import Progress as CopyProgress
    from app.storage.probe import UrlCheck
    from app.storage.store import Store
    from app.sync.service import OnceReport
    from app.sync.service import SyncStatus as SyncStatus  # named by ui for types only

log = logging.getLogger("closeout")


class OpenOptions(TypedDict, total=False):
    """The options of `Supervisor.prepare` and `Supervisor.open`."""

    settings: Settings | None
    demo: bool | None
    db_url: str | None
    api_url: str | None
    token: Secret | None
    webhook_port: int | None
    webhook_secret: str | None
    webhook_keys: Sequence[SigningKey] | None
    poll_seconds: float | None


@dataclass(frozen=True, slots=True)
class _Plan:
    """What `prepare` decided and `connect` builds."""

    demo: bool
    token: Secret | None
    db_url: str | None
    api_url: str | None
    webhook_port: int | None
    webhook_secret: str
    webhook_keys: tuple[SigningKey, ...]
    poll_seconds: float


class Supervisor:
    """Opens, starts and closes everything; the services do the work."""

    def __init__(self, settings: Settings, plan: _Plan) -> None:
        """Use `Supervisor.prepare` (then `connect`) or `Supervisor.open`."""
        self.settings = settings
        self.bus = EventBus()
        self._plan = plan
        self._core = Core(settings, self.bus, demo=plan.demo, token=plan.token, api_url=plan.api_url)
        self._demo: DemoWorkspace | None = None
        self._demo_started = False
        self._closed = False
        self.workflow_service = WorkflowService(self._core)
        self.queue_service = QueueService(self._core)
        self.history_service = HistoryService(self._core)
        self.team_service = TeamService(self._core)
        self.connection_service = ConnectionService(self._core)
        self.credential_service = CredentialService(self._core)

    @property
    def is_demo(self) -> bool:
        """True on the built-in demo workspace."""
        return self._plan.demo

    @classmethod
    def prepare(
        cls,
        *,
        settings: Settings | None = None,
        demo: bool | None = None,
        db_url: str | None = None,
        api_url: str | None = None,
        token: Secret | None = None,
        webhook_port: int | None = None,
        webhook_secret: str | None = None,
        webhook_keys: Sequence[SigningKey] | None = None,
        poll_seconds: float | None = None,
    ) -> Supervisor:
        """Decide the workspace from the options, the settings and the stored token; nothing is opened yet.

        With no token (and `demo` not False), Closeout runs on the built-in demo workspace. `webhook_keys`
        are accepted besides the stored signing keys (the CLI's `--webhook-secret`).
        """
        settings = settings or Settings.load()
        # The declared bounds hold for values passed in (the CLI's options) as for the file and the environment.
        for setting, given in ((POLL_SECONDS, poll_seconds), (WEBHOOK_PORT, webhook_port)):
            setting.check_bounds(given)
        if token is None and demo is not True:
            token = secrets.load_token()
        use_demo = (token is None) if demo is None else demo
        if not use_demo and token is None:
            raise ConfigError(
                "No respond.io API token is set.",
                "Run `closeout-cli login`, set CLOSEOUT_API_TOKEN, or paste it in Settings.",
            )
        plan = _Plan(
            demo=use_demo,
            token=token,
            db_url=db_url,
            api_url=api_url,
            webhook_port=webhook_port if webhook_port is not None else (settings.get(WEBHOOK_PORT) or None),
            webhook_secret=webhook_secret if webhook_secret is not None else settings.get(WEBHOOK_SECRET),
            webhook_keys=tuple(webhook_keys or ()),
            poll_seconds=poll_seconds if poll_seconds is not None else float(settings.get(POLL_SECONDS)),
        )
        return cls(settings, plan)

    @classmethod
    async def open(cls, **options: Unpack[OpenOptions]) -> Supervisor:
        """`prepare` with these options, then `connect` (nothing runs until `start`)."""
        supervisor = cls.prepare(**options)
        await supervisor.connect()
        return supervisor

    async def connect(self) -> None:
        """Open the store and build the client and the sync service; environment problems raise StorageError."""
        if self._core.store_if_open is not None:
            return
        from app.sync.service import SyncOptions, SyncService

        plan, settings = self._plan, self.settings
        db_url = plan.db_url
        if plan.demo:
            # Imported here: the fake platform behind the demo costs start-up time a real workspace never needs.
            from app.demo import DemoWorkspace, demo_database_url

            db_url = db_url or demo_database_url()
        # Storage is imported on the worker thread too, so the window's loop keeps drawing meanwhile.
        store = await asyncio.to_thread(_open_store, db_url or settings.get(DB_URL) or None)
        if plan.demo:
            self._demo = DemoWorkspace.create(settings)
            client = self._demo.client()
        else:
            assert plan.token is not None
            client = self._core.client(plan.token, plan.api_url)
        options = SyncOptions(
            poll_seconds=plan.poll_seconds,
            webhook_port=plan.webhook_port,
            webhook_secret=plan.webhook_secret,
            webhook_keys=plan.webhook_keys,
            demo=plan.demo,
            lease_seconds=float(settings.get(LEASE_SECONDS)),
        )
        try:
            store.availability.zone = zone_named(settings.get(TIME_ZONE))
        except ConfigError as exc:
            log.warning("working hours use this computer's time zone: %s", exc.message)
        sync = SyncService(store, client, self.bus, options)
        self._core.attach(store, sync)
        if settings.source(WEBHOOK_SECRET) == "file" and settings.get(WEBHOOK_SECRET).strip():
            await asyncio.to_thread(move_settings_key, settings)
        if plan.webhook_port is not None:
            # Read only when the receiver runs: a keyring lookup costs start-up time the other modes never need.
            await sync.use_stored_keys(secrets.load_webhook_keys)
        await sync.changes.begin()  # before any view loads: what others commit from now on reaches it
        self._core.mark_connected()

    async def wait_connected(self) -> None:
        """Return once `connect` has finished."""
        await self._core.wait_connected()

    def on_change(self, handler: Callable[[ChangeSet], None]) -> None:
        """Subscribe to change-sets."""
        self.bus.subscribe(handler)

    # -- running -------------------------------------------------------------------------------------------

    async def _start_demo(self) -> None:
        """Seed the demo workspace on its first launch and start its simulator (once)."""
        if self._demo is None or self._demo_started:
            return
        self._demo_started = True
        core = self._core
        await self._demo.start(core.store, self.workflow_service.publish_template, core.sync.submit_nowait)

    async def start(self, *, poll: bool = True, drain: bool = True) -> None:
        """Start syncing (and, in demo mode, the simulated workspace)."""
        await self.wait_connected()
        await self._start_demo()
        await self._core.sync.start(poll=poll, drain=drain)
        self._core.started = True

    async def sync_once(self) -> OnceReport:
        """One round without starting the background work: recover, poll, send what is queued (`sync --once`)."""
        await self.wait_connected()
        await self._start_demo()  # the demo's workspace answers only while it runs
        return await self._core.sync.run_once()

    async def wait_failure(self) -> BaseException:
        """Return the error that stopped background work for good, once it does."""
        return await self._core.sync.wait_failure()

    async def wait_idle(self, quiet_seconds: float) -> None:
        """Return once nothing has been queued or sent for `quiet_seconds` (`sync --until-idle`)."""
        await self._core.sync.wait_idle(quiet_seconds)

    async def wait_stuck(self, grace_seconds: float) -> Connectivity:
        """Return the state that has kept queued commands from going out for `grace_seconds`."""
        return await self._core.sync.wait_stuck(grace_seconds)

    @property
    def failure(self) -> BaseException | None:
        """What stopped background work for good, if anything did."""
        sync = self._core.sync_if_open
        return sync.failure if sync is not None else None

    async def settle(self) -> None:
        """Stop the demo and every sync task, then let the database finish what is queued (counts are final)."""
        if self._demo is not None:
            await self._demo.stop()
        sync = self._core.sync_if_open
        if sync is not None:
            await sync.stop()
            await sync.store.db.write(lambda: None)

    async def close(self) -> None:
        """Stop every task and release the database and the connections."""
        if self._closed:
            return
        self._closed = True
        sync, store = self._core.sync_if_open, self._core.store_if_open
        if sync is not None:
            await sync.stop()
        if self._demo is not None:
            await self._demo.stop()
        if sync is not None:
            await sync.client.aclose()
        if store is not None:
            await asyncio.to_thread(store.close)


def configured_database_url() -> str:
    """The database this Closeout uses: the Database location setting (CLOSEOUT_DB_URL), else the local file."""
    from app.storage.database import default_url

    return Settings.load().get(DB_URL) or default_url()


def test_database_url(url: str) -> UrlCheck:
    """Try a database URL without changing anything there; says in words what stands in the way (Settings' Test)."""
    from app.storage.probe import check_url

    return check_url(url)


def postgres_driver() -> str | None:
    """The PostgreSQL driver shared mode would use, with its libpq version; None when it is not installed."""
    from app.storage.probe import postgres_driver as driver

    return driver()


def copy_database(source_url: str, target_url: str, *, overwrite: bool, progress: CopyProgress | None) -> CopyResult:
    """Copy every table of one database into another (see app.storage.copy)."""
    from app.storage.copy import copy_database as copy

    return copy(source_url, target_url, overwrite=overwrite, progress=progress)


def _open_store(url: str | None) -> Store:
    from app.storage.store import Store

    return Store.open(url)


__all__ = [
    "ConnectionService",
    "Connectivity",
    "CredentialService",
    "DryRunReport",
    "HistoryService",
    "OpChanges",
    "QueueRow",
    "QueueService",
    "RunDetail",
    "Supervisor",
    "TeamMember",
    "TeamService",
    "Template",
    "WorkflowService",
    "api_url_problem",
    "configured_database_url",
    "connection_words",
    "copy_database",
    "move_settings_key",
    "postgres_driver",
    "test_database_url",
    "unknown_references",
]
