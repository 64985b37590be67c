"""The Supervisor: the one object the GUI and the CLI talk to.

It opens the store, builds the platform client (or the built-in demo workspace when there is no token),
runs the sync service, and offers every operation a team lead performs, in domain terms. Operations
return domain objects; changes reach listeners as change-sets on `bus`.

Opening happens in two steps so the desktop app can show its window first: `prepare` decides the workspace
(token or demo) without touching the disk, and `connect` opens the database and builds the client and the
sync service. Storage (SQLAlchemy), the client (httpx) and sync are imported by `connect`, not with this
module: together they are most of Closeout's start-up time. An operation called before `connect` has
finished waits for it. `Supervisor.open` does both steps.
"""

from __future__ import annotations

import asyncio
import dataclasses
import datetime as dt
import functools
import logging
import time
from collections.abc import Awaitable, Callable, Mapping, Sequence
from dataclasses import dataclass, replace
from pathlib import Path
from typing import TYPE_CHECKING, Concatenate, ParamSpec, TypedDict, TypeVar, Unpack
from urllib.parse import urlsplit

from app import secrets
from app.domain.availability import Availability, AvailabilityBook, Presence, WorkingHours, zone_named
from app.domain.conversations import ClosedConversation
from app.domain.errors import (
    AuthRejected,
    CloseoutError,
    ConfigError,
    NotFound,
    NotFoundLocally,
    Offline,
    PlatformError,
    PlatformUnavailable,
    PublishBlocked,
    RateLimited,
    WorkflowError,
)
from app.domain.history import AssignmentChange, Cursor, HistoryFilter, HistoryPage
from app.domain.people import Agent, Contact, Team
from app.domain.queue import QueueRow, queue_row
from app.domain.secret import Secret
from app.domain.signing_keys import SigningKey, signing_key
from app.domain.workflows import (
    ConditionField,
    RunOutcome,
    TriggerKind,
    Workflow,
    WorkflowRun,
    WorkflowState,
)
from app.engine import catalog, lifecycle
from app.engine.catalog import Template
from app.engine.dry_run import DryRunReport, dry_run
from app.engine.file_format import export_workflow, import_workflow
from app.engine.undo import plan_undo
from app.events import ChangeSet, EventBus
from app.settings import (
    API_URL,
    DB_URL,
    LEASE_SECONDS,
    POLL_SECONDS,
    RATE_LIMIT_PER_S,
    REQUEST_TIMEOUT_S,
    TIME_ZONE,
    WEBHOOK_PORT,
    WEBHOOK_SECRET,
    Settings,
)
from app.sync.connectivity import Connectivity

if TYPE_CHECKING:
    from app.demo import DemoWorkspace
    from app.platform.client import PlatformClient
    from app.storage.copy import CopyResult
    from app.storage.copy import Progress as CopyProgress
    from app.storage.export import Progress
    from app.storage.probe import UrlCheck
    from app.storage.store import Store
    from app.storage.workflows import WorkflowStats
    from app.sync.service import SyncService
    from app.sync.service import SyncStatus as SyncStatus  # named by ui for types only

log = logging.getLogger("closeout")

DAY = 86_400
FILTER_CONTACTS = 100
"""Contacts a name, phone or email filter matches at most (the history merges one index read per contact)."""
P = ParamSpec("P")
T = TypeVar("T")


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


@dataclass(frozen=True, slots=True)
class TeamMember:
    """An agent from the cache with the availability the lead keeps for them, and what it means right now."""

    agent: Agent
    availability: Availability
    set_by_lead: bool
    available_now: bool


@dataclass(frozen=True, slots=True)
class RunDetail:
    """A run with the close it ran on and the changes it made."""

    run: WorkflowRun
    close: ClosedConversation | None
    changes: tuple[AssignmentChange, ...]
    workflow: Workflow | None
    close_runs: tuple[WorkflowRun, ...] = ()
    """Every run on the same close (this one included), oldest first."""
    workflow_names: Mapping[int, str] = dataclasses.field(default_factory=dict)
    """The name of each workflow among `close_runs`, by id."""


def connected(
    method: Callable[Concatenate[Supervisor, P], Awaitable[T]],
) -> Callable[Concatenate[Supervisor, P], Awaitable[T]]:
    """Make an operation wait until the supervisor has connected (the window may ask before that)."""

    @functools.wraps(method)
    async def wait_then_run(self: Supervisor, /, *args: P.args, **kwargs: P.kwargs) -> T:
        await self.wait_connected()
        return await method(self, *args, **kwargs)

    return wait_then_run


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
    """Everything Closeout does, behind one facade."""

    def __init__(self, settings: Settings, plan: _Plan) -> None:
        """Use `Supervisor.prepare` (then `connect`) or `Supervisor.open`."""
        self.settings = settings
        self.bus = EventBus()
        self.demo: DemoWorkspace | None = None
        self._plan = plan
        self._store: Store | None = None
        self._sync: SyncService | None = None
        self._connected = asyncio.Event()
        self._agents: dict[int, Agent] = {}
        self._categories: tuple[str, ...] | None = None
        self._closed = False
        self._started = False
        self.bus.subscribe(self._on_change)

    @property
    def is_demo(self) -> bool:
        """True on the built-in demo workspace."""
        return self._plan.demo

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
        if self._store is not None:
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
            self.demo = DemoWorkspace.create(settings)
            client = self.demo.client()
        else:
            assert plan.token is not None
            client = self._client(settings, plan.token, plan.api_url)
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
        self._store, self._sync = store, SyncService(store, client, self.bus, options)
        if settings.source(WEBHOOK_SECRET) == "file" and settings.get(WEBHOOK_SECRET).strip():
            await asyncio.to_thread(move_settings_key, settings)
        if plan.webhook_port is not None:
            # Read only when the receiver runs: a keyring lookup costs start-up time the other modes never need.
            await self._sync.use_stored_keys(secrets.load_webhook_keys)
        await self._sync.changes.begin()  # before any view loads: what others commit from now on reaches it
        self._connected.set()

    async def wait_connected(self) -> None:
        """Return once `connect` has finished."""
        await self._connected.wait()

    @staticmethod
    def _client(settings: Settings, token: Secret, api_url: str | None = None) -> PlatformClient:
        from app.platform.client import PlatformClient

        return PlatformClient(
            api_url or settings.get(API_URL),
            token,
            rate_limit=settings.get(RATE_LIMIT_PER_S),
            timeout=settings.get(REQUEST_TIMEOUT_S),
        )

    def _on_change(self, change: ChangeSet) -> None:
        if change.agents_changed:
            self._agents.clear()
            self._categories = None

    @connected
    async def start(self, *, poll: bool = True, drain: bool = True) -> None:
        """Start syncing (and, in demo mode, the simulated workspace)."""
        if self.demo is not None:
            await self.demo.start(self)
        await self.sync.start(poll=poll, drain=drain)
        self._started = True

    async def close(self) -> None:
        """Stop every task and release the database and the connections."""
        if self._closed:
            return
        self._closed = True
        if self._sync is not None:
            await self._sync.stop()
        if self.demo is not None:
            await self.demo.stop()
        if self._sync is not None:
            await self._sync.client.aclose()
        if self._store is not None:
            await asyncio.to_thread(self._store.close)

    # -- workflows ----------------------------------------------------------------------------------------

    def templates(self) -> tuple[Template, ...]:
        """The gallery."""
        return catalog.TEMPLATES

    @connected
    async def use_template(
        self, template_id: str, name: str | None = None, values: Mapping[str, str] | None = None
    ) -> Workflow:
        """Save a draft copy of a template and return it; a value the workspace does not have is refused."""
        draft = catalog.use_template(template_id, name, values)
        if values:
            invalid = await self.invalid_values(draft)
            if invalid:
                raise WorkflowError("; ".join(invalid) + ".", "Choose a user or team the workspace has.")
        return await self.save_workflow(draft)

    @connected
    async def save_workflow(self, workflow: Workflow) -> Workflow:
        """Store a workflow (a published workflow keeps running with the saved definition).

        A published workflow must stay publishable: PublishBlocked says what is missing or names a user or
        team the workspace lacks. A draft may hold anything; `missing_fields` and `invalid_values` say what.
        """
        if workflow.state is WorkflowState.PUBLISHED:
            problems = lifecycle.missing_fields(workflow) + await self.invalid_values(workflow)
            if problems:
                raise PublishBlocked(workflow.name or "This workflow", problems)
        saved = await self.store.db.write(self.store.workflows.save, workflow)
        if saved.state is WorkflowState.PUBLISHED:
            await self.sync.intake.load_workflows()
        self.bus.publish(ChangeSet(workflows=(saved.id,) if saved.id is not None else ()))
        return saved

    @connected
    async def workflow(self, workflow_id: int) -> Workflow:
        """One workflow."""
        return await self.store.db.read(self.store.workflows.get, workflow_id)

    @connected
    async def workflows(self) -> list[Workflow]:
        """Every workflow, oldest first."""
        return await self.store.db.read(self.store.workflows.all)

    @connected
    async def workflow_stats(self) -> dict[int, WorkflowStats]:
        """Runs today and the last outcome, per workflow."""
        midnight = dt.datetime.now().astimezone().replace(hour=0, minute=0, second=0, microsecond=0)
        return await self.store.db.read(self.store.workflows.stats, midnight.timestamp())

    def missing_fields(self, workflow: Workflow) -> tuple[str, ...]:
        """What must be filled in before publishing."""
        return lifecycle.missing_fields(workflow)

    @connected
    async def invalid_values(self, workflow: Workflow) -> tuple[str, ...]:
        """The users, teams and closing-note categories `workflow` names that the workspace lacks, in words."""
        uses_categories = any(c.field is ConditionField.CATEGORY for c in workflow.trigger.conditions)
        categories = await self.closing_categories() if uses_categories else ()
        return lifecycle.invalid_values(workflow, list((await self.agents()).values()), categories)

    @connected
    async def closing_categories(self) -> tuple[str, ...]:
        """The workspace's closing-note categories, asked at most once per poll; empty when the platform cannot say.

        Not asked while Closeout knows the platform is unreachable or the token rejected, so checking a
        workflow offline never waits on retries; an answer that fails is not asked again until the next poll.
        """
        if self._categories is None:
            if self.sync.connectivity.state in (Connectivity.OFFLINE, Connectivity.AUTH_FAILED):
                return ()
            try:
                notes = await self.sync.client.list_closing_notes()
            except PlatformError as exc:
                log.info("closing-note categories unavailable, so not checked: %s", exc)
                notes = []
            self._categories = tuple(note.category for note in notes)
        return self._categories

    def warnings(self, workflow: Workflow) -> tuple[str, ...]:
        """What is allowed but probably not meant."""
        return lifecycle.warnings(workflow)

    @connected
    async def publish(self, workflow_id: int) -> Workflow:
        """Publish a workflow (PublishBlocked lists what is missing); it runs on the next event."""
        workflow = await self.workflow(workflow_id)
        invalid = await self.invalid_values(workflow)
        if invalid:
            raise PublishBlocked(workflow.name or "This workflow", lifecycle.missing_fields(workflow) + invalid)
        return await self.save_workflow(lifecycle.publish(workflow))

    async def overlap_warnings(self, workflow_id: int) -> tuple[str, ...]:
        """Warnings naming each other published workflow whose trigger overlaps this one's."""
        workflow = await self.workflow(workflow_id)
        published = await self.store.db.read(self.store.workflows.all, WorkflowState.PUBLISHED)
        return lifecycle.overlaps(workflow, published)

    def sending_elsewhere(self) -> str | None:
        """Words for the status bar when another Closeout process sends and polls for this database, else None.

        For example "Another Closeout on this computer is sending: pid 4242".
        """
        return self.sync.runner

    @connected
    async def take_over_runner(self) -> None:
        """Ask the process that sends and polls to hand that role to this one (it does at its next renewal)."""
        await self.sync.take_over()

    @connected
    async def stop_workflow(self, workflow_id: int) -> Workflow:
        """Stop a workflow; its runs and history stay."""
        stopped = await self.save_workflow(lifecycle.stop(await self.workflow(workflow_id)))
        await self.sync.intake.load_workflows()
        return stopped

    @connected
    async def export_workflow(self, workflow_id: int) -> str:
        """The workflow as an export document."""
        return export_workflow(await self.workflow(workflow_id))

    @connected
    async def import_workflow(self, text: str | bytes) -> Workflow:
        """A new draft from an export document."""
        return await self.save_workflow(import_workflow(text))

    @connected
    async def dry_run(self, workflow: Workflow, since: float, until: float | None = None) -> DryRunReport:
        """What `workflow` would have done over the closes recorded in [since, until).

        Only a Conversation Closed workflow can be replayed: the past Closeout records is closes.
        """
        if workflow.trigger.kind is not TriggerKind.CONVERSATION_CLOSED:
            raise WorkflowError(
                "A dry run replays past closes, so it is for Conversation Closed workflows only; this one starts "
                "when a conversation opens.",
                "Publish it to see it run, or change its trigger to Conversation Closed.",
            )
        until = time.time() if until is None else until
        closes = await self.store.db.read(self.store.closes.between, int(since), int(until) + 1)
        agents = await self.agents()
        loads = await self.store.db.read(self.store.cache.open_load)
        book = await self.store.db.read(self.store.availability.book)
        return dry_run(workflow, closes, list(agents.values()), dict(loads), book)

    # -- queue, runs, undo ----------------------------------------------------------------------------------

    @connected
    async def queue(self, limit: int = 200, before_id: int | None = None) -> list[QueueRow]:
        """Closed conversations, newest first, each with its latest run and outcome."""
        return await self.store.db.read(self._queue, limit, before_id, None)

    @connected
    async def queue_rows(self, close_ids: Sequence[int]) -> list[QueueRow]:
        """The queue rows of these closes (to refresh the rows a change-set names)."""
        return await self.store.db.read(self._queue, len(close_ids), None, list(close_ids))

    def _queue(self, limit: int, before_id: int | None, ids: list[int] | None) -> list[QueueRow]:
        store = self.store
        closes = store.closes.by_ids(ids) if ids is not None else store.closes.newest(limit, before_id)
        runs = store.closes.runs_of([c.id for c in closes if c.id is not None])
        changes = store.history.first_for_runs([r.id for rs in runs.values() for r in rs if r.id is not None])
        return [queue_row(close, runs.get(close.id, []) if close.id is not None else [], changes) for close in closes]

    @connected
    async def runs(
        self,
        workflow_id: int | None = None,
        outcome: RunOutcome | None = None,
        before_id: int | None = None,
        limit: int = 200,
    ) -> list[WorkflowRun]:
        """The run log, newest first."""
        return await self.store.db.read(self.store.runs.page, workflow_id, outcome, before_id, limit)

    @connected
    async def run_detail(self, run_id: int) -> RunDetail:
        """A run, its close, its changes and its workflow."""

        def load() -> RunDetail:
            run = self.store.runs.get(run_id)
            close = self.store.closes.get(run.conversation_id) if run.conversation_id is not None else None
            close_runs = self.store.closes.runs_of([close.id])[close.id] if close and close.id is not None else [run]
            names: dict[int, str] = {}
            workflow = None
            for workflow_id in {r.workflow_id for r in close_runs} | {run.workflow_id}:
                try:
                    found = self.store.workflows.get(workflow_id)
                except NotFoundLocally:
                    continue
                names[workflow_id] = found.name
                if workflow_id == run.workflow_id:
                    workflow = found
            changes = tuple(self.store.history.for_run(run_id))
            return RunDetail(run, close, changes, workflow, tuple(close_runs), names)

        return await self.store.db.read(load)

    @connected
    async def undo(self, run_id: int) -> WorkflowRun:
        """Reverse a run through the outbox; returns the undo run. WorkflowError says why it cannot be undone."""
        detail = await self.run_detail(run_id)
        if detail.run.key.startswith("undo:"):
            raise WorkflowError("This run is itself an undo; undo the original run's undo is not offered.")
        refs = {agent_id: agent.ref for agent_id, agent in (await self.agents()).items()}
        plan = plan_undo(detail.run, detail.changes, refs, time.time())
        result = await self.sync.intake.commit_plan(plan)
        if not result.runs:
            raise WorkflowError(f"Run {run_id} was already undone.")
        return await self.store.db.read(self.store.runs.get, result.runs[0])

    # -- history -----------------------------------------------------------------------------------------

    @connected
    async def history_page(self, flt: HistoryFilter, after: Cursor | None = None, limit: int = 200) -> HistoryPage:
        """One page of the history, newest first."""
        return await self.store.db.read(self.store.history.page, flt, after, limit)

    @connected
    async def history_count(self, flt: HistoryFilter) -> int:
        """How many history rows match."""
        return await self.store.db.read(self.store.history.count, flt)

    @connected
    async def per_day_by_source(self, flt: HistoryFilter) -> list[tuple[int, str, int]]:
        """Changes per day and source, the days breaking at midnight in this machine's zone (across DST changes)."""
        return await self.store.db.read(self.store.history.per_day_by_source, flt, None)

    @connected
    async def open_load(self) -> dict[int, int]:
        """Open contacts per agent now."""
        return await self.store.db.read(self.store.cache.open_load)

    @connected
    async def export_csv(
        self, path: Path, flt: HistoryFilter, progress: Progress | None = None, for_excel: bool = False
    ) -> int:
        """Write the filtered history to `path` as CSV (with a UTF-8 BOM `for_excel`); returns the number of rows."""
        names = {agent_id: agent.name for agent_id, agent in (await self.agents()).items()}
        return await self.store.db.read(self.store.exporter.to_path, path, flt, names, progress, for_excel)

    # -- people, status, token ------------------------------------------------------------------------------

    @connected
    async def agents(self) -> dict[int, Agent]:
        """The cached agents by id."""
        if not self._agents:
            self._agents = {a.id: a for a in await self.store.db.read(self.store.cache.agents)}
        return self._agents

    @connected
    async def team(self) -> list[TeamMember]:
        """Every cached agent with their availability, by name (the Team page and `closeout-cli agents`)."""
        agents = await self.agents()
        book = await self.store.db.read(self.store.availability.book)
        now = time.time()
        members = [
            TeamMember(a, book.of(a.id), a.id in book.entries, book.is_available(a.id, now)) for a in agents.values()
        ]
        return sorted(members, key=lambda m: (m.agent.name.lower(), m.agent.id))

    @property
    def hours_zone(self) -> str:
        """The zone working hours are read in, in words: the setting's, or this computer's when it names none."""
        zone = self._store.availability.zone if self._store is not None else None
        return str(zone) if zone is not None else "this computer's time zone"

    @connected
    async def availability_book(self) -> AvailabilityBook:
        """The availability the lead keeps, as the engine reads it."""
        return await self.store.db.read(self.store.availability.book)

    @connected
    async def find_agent(self, text: str) -> Agent:
        """The cached agent `text` names: an id, an email, or a full or first name that only one agent has."""
        agents = await self.agents()
        wanted = text.strip()
        if wanted.isdigit() and int(wanted) in agents:
            return agents[int(wanted)]
        lowered = wanted.lower()
        for matches in (
            [a for a in agents.values() if a.email.lower() == lowered],
            [a for a in agents.values() if a.name.lower() == lowered],
            [a for a in agents.values() if a.first_name.lower() == lowered],
        ):
            if len(matches) == 1:
                return matches[0]
            if len(matches) > 1:
                names = ", ".join(f"{a.name} ({a.id})" for a in matches[:5])
                raise ConfigError(f"{wanted[:60]!r} names more than one agent: {names}.", "Use the agent's id.")
        what = f"with id {wanted[:20]}" if wanted.isdigit() else f"called {wanted[:60]!r}"
        raise ConfigError(
            f"No agent {what} is in the cache." if wanted else "No agent was named.",
            "Use an id, email or name from `closeout-cli agents` (run `sync --once` first to fetch them).",
        )

    @connected
    async def set_presence(self, agent_id: int, presence: Presence) -> Availability:
        """Mark an agent available or away (their working hours stay)."""
        book = await self.availability_book()
        return await self._set_availability(replace(book.of(agent_id), presence=presence))

    @connected
    async def set_hours(self, agent_id: int, hours: WorkingHours | None) -> Availability:
        """Give an agent working hours (None: any time they are marked available)."""
        book = await self.availability_book()
        current = book.of(agent_id)
        if agent_id not in book.entries and hours is not None:
            # Hours alone mean "available in them"; clearing hours (an Enter in an empty cell) grants nothing.
            current = replace(current, presence=Presence.AVAILABLE)
        return await self._set_availability(replace(current, hours=hours))

    async def _set_availability(self, entry: Availability) -> Availability:
        if entry.agent_id not in await self.agents():
            raise NotFoundLocally(f"Agent {entry.agent_id} is not in the cache.")
        saved = await self.store.db.write(self.store.availability.set, entry)
        self.bus.publish(ChangeSet(agents_changed=True))
        if self._started:
            # Runs waiting for someone available get their chance now, not at the next retry.
            await self.sync.intake.resume_waiting()
        return saved

    @connected
    async def status(self) -> SyncStatus:
        """What the status bar shows."""
        return await self.sync.status()

    async def test_connection(self, token: Secret, api_url: str | None = None) -> None:
        """Ask the platform whether this token works; raises the platform's error in words if not."""
        async with self._client(self.settings, token, api_url) as client:
            await client.check_connection()

    async def stored_token(self) -> Secret | None:
        """The kept token, read off the calling thread: a keyring's unlock prompt can take minutes."""
        return await asyncio.to_thread(secrets.load_token)

    @connected
    async def set_token(self, token: Secret) -> str:
        """Keep a new token and switch to it (leaving the demo workspace needs a restart); returns where it went."""
        where = await asyncio.to_thread(secrets.store_token, token)
        if not self.is_demo:
            await self.sync.set_client(self._client(self.settings, token))
        return where

    @connected
    async def reload_token(self) -> bool:
        """Switch to the stored token if it is not the one in use (another `login` stored it); True if switched."""
        if self.is_demo:
            return False
        stored = await asyncio.to_thread(secrets.load_token)
        if stored is None or stored == self._plan.token:
            return False
        self._plan = replace(self._plan, token=stored)
        await self.sync.set_client(self._client(self.settings, stored, self._plan.api_url))
        return True

    @property
    def webhook_url(self) -> str | None:
        """Where the receiver listens now, or None when it is off (or not started yet)."""
        return self._sync.webhook_url if self._sync is not None else None

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
        if self._sync is not None:
            self._sync.set_webhook_keys(tuple(await self.webhook_keys()))

    def on_change(self, handler: Callable[[ChangeSet], None]) -> None:
        """Subscribe to change-sets."""
        self.bus.subscribe(handler)

    # -- for the desktop app --------------------------------------------------------------------------------

    @connected
    async def contact_names(self, contact_ids: Sequence[int]) -> dict[int, str]:
        """Display names of the cached contacts among `contact_ids` (the history table shows names, not ids)."""
        found = await self.store.db.read(self.store.cache.contacts, list(contact_ids))
        return {contact_id: contact.name for contact_id, contact in found.items()}

    @connected
    async def find_contacts(self, text: str, limit: int = 20) -> list[Contact]:
        """Cached contacts by id, or whose name, phone or email contains `text` (the filters' look-up)."""
        stripped = text.strip()
        if stripped.isdigit():
            found = await self.store.db.read(self.store.cache.contacts, [int(stripped)])
            if found:
                return list(found.values())
        return await self.store.db.read(self.store.cache.find, stripped, limit)

    @connected
    async def find_conversations(self, text: str, limit: int = 200) -> list[ClosedConversation]:
        """Stored closes by id, or the latest of the contacts whose name, phone or email contains `text`."""
        stripped = text.strip()
        if stripped.isdigit():
            found = await self.store.db.read(self.store.closes.by_ids, [int(stripped)])
            if found:
                return found
        contacts = await self.find_contacts(stripped, FILTER_CONTACTS)
        return await self.store.db.read(self.store.closes.of_contacts, [c.id for c in contacts], limit)

    @connected
    async def teams(self) -> list[tuple[Team, tuple[int, ...]]]:
        """The teams of the cached agents with their members' ids, by name (the history's team filter)."""
        members: dict[int, tuple[Team, list[int]]] = {}
        for agent in (await self.agents()).values():
            if agent.team is not None:
                members.setdefault(agent.team.id, (agent.team, []))[1].append(agent.id)
        return sorted(
            ((team, tuple(sorted(ids))) for team, ids in members.values()), key=lambda p: (p[0].name.lower(), p[0].id)
        )

    @connected
    async def history_rows(self, change_ids: Sequence[int]) -> list[AssignmentChange]:
        """These history rows as they are now (to refresh the rows a change-set names), in no order."""

        def load() -> list[AssignmentChange]:
            rows = (self.store.history.get(change_id) for change_id in change_ids)
            return [row for row in rows if row is not None]

        return await self.store.db.read(load)

    @connected
    async def recent_categories(self, limit: int = 500) -> list[str]:
        """Closing-note categories seen on the newest closes, most frequent first (the editor's suggestions)."""
        closes = await self.store.db.read(self.store.closes.newest, limit, None)
        counts: dict[str, int] = {}
        for close in closes:
            if close.category:
                counts[close.category] = counts.get(close.category, 0) + 1
        return sorted(counts, key=lambda category: (-counts[category], category.lower()))


def unknown_references(workflow: Workflow, agents: Mapping[int, Agent]) -> tuple[str, ...]:
    """The users and teams the workflow names that the cached agents do not have, as the engine words them.

    The messages read like `missing_fields`' ("Step 1 (Assign To): ..."), so the editor marks the same field.
    """
    return lifecycle.invalid_values(workflow, list(agents.values()))


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
    "Connectivity",
    "DryRunReport",
    "RunDetail",
    "Supervisor",
    "TeamMember",
    "Template",
    "api_url_problem",
    "configured_database_url",
    "connected",
    "connection_words",
    "copy_database",
    "postgres_driver",
    "test_database_url",
    "unknown_references",
]
