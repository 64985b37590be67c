"""The sync service: intake → engine → storage → drain on one asyncio loop, and every task it owns.

It does not care which loop runs it (qasync in the GUI, plain asyncio in the CLI and tests). Each
background task is owned here and cancelled by `stop`. A task that dies of an unexpected error is
restarted with a growing delay; the failure is kept in words (`problem`, shown by `status`), and it ends
`wait_failure` so the CLI can exit with an error instead of hanging.

Several Closeout processes may open one database (the GUI, `closeout-cli sync --forever`, a second GUI).
Each one takes in events (a webhook, the demo workspace), since intake deduplicates by the platform's ids
inside its write transaction. Only one of them, the **runner**, sends, polls and resumes waiting runs: it
holds the runner lease (renewed every third of its length) and the others watch, taking over when it lapses
or its process is gone.
The platform's one rate budget is thus never split, and `runner` names the process that sends.
A watcher may ask for the role (`take_over`): the runner sees the request at its next renewal, lets the
commands it is sending settle, stops its drain and poller, and only then writes the lease over to the asker.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from collections.abc import Callable, Coroutine, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from app.backoff import Backoff
from app.domain.conversations import PlatformEvent
from app.domain.errors import StorageError
from app.domain.secret import Secret
from app.domain.signing_keys import SigningKey, merged
from app.events import ChangeSet, EventBus
from app.platform.client import PlatformClient
from app.platform.pacing import RateLimitBudget
from app.storage.change_feed import ChangeFeed, change_feed
from app.storage.leases import RUNNER, Holder, Lease
from app.storage.store import Store
from app.sync.channels import ChannelLookup
from app.sync.connectivity import Connectivity, ConnectivityState
from app.sync.drain import Drain
from app.sync.intake import Intake
from app.sync.poller import LAST_POLL, Poller
from app.tasks import OwnedTasks

if TYPE_CHECKING:
    from app.sync.embedded_server import EmbeddedServer
    from app.sync.webhook_receiver import ReceiverCounters

log = logging.getLogger("closeout.sync")

WAITING_RETRY_SECONDS = 30.0
RUNNER_LEASE_SECONDS = 6.0  # with a renewal every 2 s, a runner on another computer that died is replaced in 8 s
HAND_OVER_SECONDS = 10.0  # how long a runner lets the commands in flight settle before it hands over anyway
RESTART_FIRST = 1.0
RESTART_MAX = 60.0
RESTART = Backoff(RESTART_FIRST, RESTART_MAX)
ONCE_WAIT_SECONDS = 30.0
RUNNER_STATE = "runner_state"
# Keys added or removed by another process (`closeout-cli webhook-keys`, a second window) reach a running
# receiver this way: a key removed there stops being accepted within KEYS_FRESH_SECONDS, and a body no key
# signed has the store read again (at most every KEYS_RETRY_SECONDS, so forged bodies cannot hammer the keyring).
KEYS_FRESH_SECONDS = 30.0
KEYS_RETRY_SECONDS = 2.0


@dataclass(frozen=True, slots=True)
class SyncOptions:
    """How the service runs. `webhook_port` None turns the receiver off; 0 picks a free port.

    `webhook_keys` are the signing keys the receiver accepts; `webhook_secret` is one more, labelled `key`.
    """

    poll_seconds: float = 60.0
    webhook_port: int | None = None
    webhook_host: str = "127.0.0.1"
    webhook_secret: str = ""
    webhook_keys: tuple[SigningKey, ...] = ()
    demo: bool = False
    lease_seconds: float = RUNNER_LEASE_SECONDS


@dataclass(frozen=True, slots=True)
class OnceReport:
    """What `run_once` left: commands not yet settled, when the next falls due, and who sends if not this process."""

    left: int
    next_due_at: float | None
    other_runner: str | None = None


@dataclass(frozen=True, slots=True)
class SyncStatus:
    """What the status bar shows."""

    connectivity: Connectivity
    detail: str
    outbox_depth: int
    backlog: int
    rate_limit: RateLimitBudget | None
    last_sync: float | None
    webhook_url: str | None
    problem: str | None = None
    other_runner: str | None = None
    runner_state: str | None = None
    runner_host: str | None = None  # the computer whose Closeout sends (this one's name when it is this process)
    runner_pid: int | None = None
    runner_renewed_at: float | None = None  # when the runner last renewed its lease (None while nobody holds it)
    runner_is_here: bool = False  # this process is the runner
    runner_on_this_computer: bool = False
    take_over_asked: bool = False  # this process asked to become the runner and waits for the hand-over


class SyncService:
    """Owns the intake consumer, the drain, the poller and the webhook receiver."""

    def __init__(
        self,
        store: Store,
        client: PlatformClient,
        bus: EventBus,
        options: SyncOptions,
    ) -> None:
        """Wire the parts; nothing runs until `start`."""
        self.store = store
        self.bus = bus
        self.options = options
        self._client = client
        self.connectivity = ConnectivityState(options.demo, self._connectivity_changed)
        self.intake = Intake(store, bus.publish, self._commands_enqueued)
        self.drain = Drain(store, lambda: self._client, self.connectivity, bus.publish)
        self.poller = Poller(
            store, lambda: self._client, self.intake, self.connectivity, bus.publish, options.poll_seconds
        )
        self.channels = ChannelLookup(store, lambda: self._client, bus.publish)
        bus.subscribe(self.channels.closes_arrived)
        self._tasks = OwnedTasks("closeout", on_failure=self._task_failed)
        self._server: EmbeddedServer | None = None
        self._failed = asyncio.Event()
        self.failure: BaseException | None = None
        self.problem: str | None = None
        self.recovered = 0
        self._retired: list[PlatformClient] = []
        self._runner_tasks: list[asyncio.Task[Any]] = []
        self._other: Lease | None = None
        self._lease: Lease | None = None  # the runner lease as last seen (ours or another's)
        self._take_over_asked = False
        self._drain_task: asyncio.Task[Any] | None = None
        self.handed_over = 0
        self.is_runner = False
        # A claim outlives a runner lease: a runner that lost its lease still holds what it is sending.
        self.store.outbox.lease_seconds = 2 * options.lease_seconds
        single = (SigningKey("key", Secret(options.webhook_secret)),) if options.webhook_secret.strip() else ()
        self._given_keys = merged(options.webhook_keys, single)
        self._webhook_keys = self._given_keys
        self._key_loader: Callable[[], Sequence[SigningKey]] | None = None
        self._keys_read_at = -float("inf")
        self.webhook_counters: ReceiverCounters | None = None
        self.changes: ChangeFeed = change_feed(store.db)
        self._from_feed: ChangeSet | None = None
        bus.subscribe(self._published)

    @property
    def client(self) -> PlatformClient:
        """The client in use."""
        return self._client

    def _connectivity_changed(self, state: Connectivity) -> None:
        self.bus.publish(ChangeSet(connectivity=state.value))
        if self.is_runner:  # for `status` in another process: what the runner is stuck on, in words
            words = f"{state.label}: {self.connectivity.detail}" if self.connectivity.detail else state.label
            self._record_state = asyncio.ensure_future(self.store.db.write(self.store.meta.set, RUNNER_STATE, words))

    def _published(self, change: ChangeSet) -> None:
        if change is not self._from_feed:
            self.changes.note_own(change)

    async def _follow_other_processes(self) -> None:
        """Publish what other connections commit, so a window that watches the runner shows it live."""
        while True:
            change = await self.changes.next_change()
            self._from_feed = change
            try:
                self.bus.publish(change)
            finally:
                self._from_feed = None
            if change.commands and self.is_runner:  # a watching window queued commands (an undo): send them
                self.drain.wake()

    def _commands_enqueued(self) -> None:
        self.drain.wake()

    async def prepare(self) -> None:
        """Recover what a crash left in flight and load the published workflows (start does this too)."""
        self.recovered = await self.store.db.write(self.store.outbox.recover_expired)
        if self.recovered:
            log.info("recovered %d commands whose holder is gone or whose lease ran out", self.recovered)
        await self.intake.load_workflows()

    async def start(self, *, poll: bool = True, drain: bool = True) -> None:
        """Recover, then run intake, the webhook receiver (if configured), and, as the runner, drain and poller."""
        await self.prepare()
        self.supervise("intake", self.intake.run)
        self.supervise("change feed", self._follow_other_processes)
        if drain or poll:
            self.supervise("runner", lambda: self._hold_runner_lease(poll=poll, drain=drain))
        if self.options.webhook_port is not None:
            # Imported here: uvicorn and Starlette are only needed when the receiver is switched on.
            from app.sync.embedded_server import EmbeddedServer
            from app.sync.webhook_receiver import ReceiverCounters, webhook_app

            self.webhook_counters = ReceiverCounters()
            app = webhook_app(self.keys_in_force, self.intake, self.webhook_counters)
            self._server = EmbeddedServer(app, self.options.webhook_host, self.options.webhook_port)
            await self._server.start()
            log.info("receiving webhooks at %s", self.webhook_url)

    async def _resume_waiting_runs(self) -> None:
        """Every half minute, give runs that wait for an available agent another chance."""
        while True:
            await asyncio.sleep(WAITING_RETRY_SECONDS)
            await self.intake.resume_waiting()

    async def _hold_runner_lease(self, *, poll: bool, drain: bool) -> None:
        """Take the runner lease when it is free and keep it; run drain and poller only while holding it."""
        try:
            while True:
                lease = await self.store.db.write(self.store.leases.acquire, RUNNER, self.options.lease_seconds)
                self._lease = lease
                ours = lease.holder.owner == self.store.holder.owner
                if ours and lease.asked_by is not None:
                    await self._hand_over(lease.asked_by)
                    continue
                if ours and not self.is_runner:
                    log.info("this process now sends and polls (pid %d)", self.store.holder.pid)
                    self.is_runner, self._other, self._take_over_asked = True, None, False
                    self.drain.finishing = False
                    if drain:
                        self._drain_task = self.supervise("drain", self.drain.run)
                        self._runner_tasks.append(self._drain_task)
                        self._runner_tasks.append(self.supervise("waiting", self._resume_waiting_runs))
                        self._runner_tasks.append(self.supervise("channels", self.channels.run))
                    if poll:
                        self._runner_tasks.append(self.supervise("poller", self.poller.run))
                    self.bus.publish(ChangeSet(connectivity=self.connectivity.state.value))
                elif not ours:
                    if self.is_runner:
                        log.warning("another process took the runner lease: %s", lease.holder.owner)
                        await self._stop_runner_tasks()
                    if self._other is None or self._other.holder != lease.holder:
                        log.info("another Closeout sends and polls: pid %d on %s", lease.holder.pid, lease.holder.host)
                        self._other = lease
                        self.bus.publish(ChangeSet(connectivity=self.connectivity.state.value))
                    self._other = lease
                await asyncio.sleep(self.options.lease_seconds / 3)
        finally:
            was_runner = self.is_runner
            await self._stop_runner_tasks()
            if was_runner:
                with contextlib.suppress(StorageError):
                    await self.store.db.write(self.store.leases.release, RUNNER)

    async def _hand_over(self, to: Holder) -> None:
        """Stop sending cleanly (what is in flight settles first), then give the runner lease to `to`."""
        log.info("%s asks to send and poll: handing over", to.owner)
        drain_task, self._drain_task = self._drain_task, None
        self.drain.finish()
        if drain_task is not None:
            # The drain claims nothing more and returns once its commands are settled; the lease is renewed
            # meanwhile, so nobody takes it while this process still sends.
            renew = self.options.lease_seconds / 3
            deadline = time.monotonic() + HAND_OVER_SECONDS
            while not drain_task.done() and time.monotonic() < deadline:
                await asyncio.wait({drain_task}, timeout=renew)
                await self.store.db.write(self.store.leases.acquire, RUNNER, self.options.lease_seconds)
        await self._stop_runner_tasks()
        if await self.store.db.write(self.store.leases.hand_over, RUNNER, to, self.options.lease_seconds):
            self.handed_over += 1
        self.bus.publish(ChangeSet(connectivity=self.connectivity.state.value))

    async def take_over(self) -> None:
        """Ask the runner to hand the role to this process; it does so at its next renewal (a few seconds)."""
        if self.is_runner:
            return
        # Long enough for the runner to let what it sends settle, short enough that a request nobody saw lapses.
        seconds = HAND_OVER_SECONDS + 2 * self.options.lease_seconds
        await self.store.db.write(self.store.leases.request, RUNNER, seconds)
        self._take_over_asked = True
        log.info("asked the runner to hand over to this process")
        self.bus.publish(ChangeSet(connectivity=self.connectivity.state.value))

    async def _stop_runner_tasks(self) -> None:
        self.is_runner, self._drain_task = False, None
        tasks, self._runner_tasks = self._runner_tasks, []
        for task in tasks:
            task.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)

    @property
    def role_known(self) -> bool:
        """True once this process has looked at the runner lease (whether it holds it or watches)."""
        return self._lease is not None

    @property
    def runner(self) -> str | None:
        """Words for the status bar when another process sends (`Another Closeout ... pid 4242`), else None."""
        other = self._other
        if other is None or self.is_runner:
            return None
        where = "on this computer" if other.holder.host == self.store.holder.host else f"on {other.holder.host}"
        return f"Another Closeout {where} is sending: pid {other.holder.pid}"

    def supervise(self, name: str, factory: Callable[[], Coroutine[Any, Any, Any]]) -> asyncio.Task[Any]:
        """Run `factory()` as an owned task, restarting it with a growing delay after an unexpected error.

        Each failure is logged, kept in words in `problem` (the status bar shows it) and ends `wait_failure`.
        """

        async def keep_running() -> None:
            failures = 0
            while True:
                started = time.monotonic()
                try:
                    await factory()
                    return
                except asyncio.CancelledError:
                    raise
                except Exception as exc:
                    if time.monotonic() - started > RESTART_MAX:
                        failures = 0  # it ran well for a while: start the delays over
                    failures += 1
                    delay = RESTART.delay(failures)
                    words = getattr(exc, "message", None) or str(exc) or type(exc).__name__
                    self.problem = f"The {name} stopped: {words} Retrying in {delay:.0f} s."
                    log.error("background task %s failed; restarting in %.0f s", name, delay, exc_info=exc)
                    self._record_failure(exc)
                    self.bus.publish(ChangeSet(connectivity=self.connectivity.state.value))
                await asyncio.sleep(delay)
                self.problem = None

        return self.spawn(name, keep_running())

    def spawn(self, name: str, coro: Coroutine[Any, Any, Any]) -> asyncio.Task[Any]:
        """Run `coro` as a task this service owns and cancels on stop; a crash is recorded, never lost."""
        task = self._tasks.spawn(coro, name)
        if task is None:
            raise RuntimeError(f"the sync service no longer starts tasks ({name})")
        return task

    def _task_failed(self, task: asyncio.Task[Any], error: BaseException) -> None:
        log.error("background task %s failed", task.get_name(), exc_info=error)
        self._record_failure(error)

    def _record_failure(self, error: BaseException) -> None:
        self.failure = error
        self._failed.set()

    async def wait_failure(self) -> BaseException:
        """Return once a background task has died."""
        await self._failed.wait()
        assert self.failure is not None
        return self.failure

    async def stop(self) -> None:
        """Stop receiving, cancel every task and wait for them; what was committed stays committed."""
        if self._server is not None:
            await self._server.stop()
            self._server = None
        tasks = list(self._tasks)
        for task in tasks:
            task.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)
        for retired in self._retired:
            await retired.aclose()
        self._retired.clear()
        await asyncio.to_thread(self.changes.close)

    async def set_client(self, client: PlatformClient) -> None:
        """Switch to a client with a new token (or URL), and resume a drain paused by a rejected token."""
        # The old client is closed only on stop: a request it still has in flight must finish, not crash.
        self._retired.append(self._client)
        self._client = client
        self.connectivity.new_token()
        self.drain.resume()
        self.poller.poll_soon()

    @property
    def webhook_keys(self) -> tuple[SigningKey, ...]:
        """The signing keys the receiver accepts now."""
        return self._webhook_keys

    def set_webhook_keys(self, stored: tuple[SigningKey, ...]) -> None:
        """Accept the stored signing keys (Settings or the CLI changed them) besides those given at start."""
        keys = merged(self._given_keys, stored)
        changed = keys != self._webhook_keys
        self._webhook_keys = keys
        if changed:
            labels = ", ".join(k.label for k in keys) or "none"
            log.info("the receiver holds %d signing keys: %s", len(keys), labels)

    async def use_stored_keys(self, loader: Callable[[], Sequence[SigningKey]]) -> None:
        """Accept the keys `loader` reads (the keyring or the key file) now, and keep following them."""
        self._key_loader = loader
        await self._read_stored_keys()

    async def keys_in_force(self, missed: bool = False) -> tuple[SigningKey, ...]:
        """The keys the receiver checks a body against; `missed`: the last ones matched nothing, look again."""
        age = time.monotonic() - self._keys_read_at
        if self._key_loader is not None and (age >= KEYS_FRESH_SECONDS or (missed and age >= KEYS_RETRY_SECONDS)):
            await self._read_stored_keys()
        return self._webhook_keys

    async def _read_stored_keys(self) -> None:
        assert self._key_loader is not None
        self._keys_read_at = time.monotonic()
        self.set_webhook_keys(tuple(await asyncio.to_thread(self._key_loader)))

    def submit_nowait(self, event: PlatformEvent) -> None:
        """Queue an event from the demo workspace or a test, without waiting for the commit."""
        self.intake.submit_nowait(event)

    @property
    def webhook_url(self) -> str | None:
        """Where to point respond.io's webhook (through a tunnel or proxy), when the receiver runs."""
        if self._server is None:
            return None
        return f"http://{self._server.host}:{self._server.port}/webhook"

    async def status(self) -> SyncStatus:
        """The figures for the status bar."""
        depth = await self.store.db.read(self.store.outbox.depth)
        lease = await self.store.db.read(self.store.leases.get, RUNNER)
        if not self.is_runner:
            self._other = lease if lease is not None and lease.holder.owner != self.store.holder.owner else None
        if self._take_over_asked and not self.is_runner:
            self._take_over_asked = await self.store.db.read(self.store.leases.asked, RUNNER)
        last = self.poller.last_at
        if last is None:
            stored = await self.store.db.read(self.store.meta.get, LAST_POLL)
            last = float(stored) if stored else None
        return SyncStatus(
            connectivity=self.connectivity.state,
            detail=self.connectivity.detail,
            outbox_depth=depth,
            backlog=self.intake.backlog,
            rate_limit=self._client.rate_limit_budget,
            last_sync=last,
            webhook_url=self.webhook_url,
            problem=self.problem,
            other_runner=self.runner,
            runner_state=await self.store.db.read(self.store.meta.get, RUNNER_STATE) if self.runner else None,
            runner_host=lease.holder.host if lease is not None else None,
            runner_pid=lease.holder.pid if lease is not None else None,
            runner_renewed_at=lease.renewed if lease is not None else None,
            runner_is_here=self.is_runner,
            runner_on_this_computer=lease is not None and lease.holder.host == self.store.holder.host,
            take_over_asked=self._take_over_asked,
        )

    async def run_once(self, wait_seconds: float = ONCE_WAIT_SECONDS) -> OnceReport:
        """One poll, then send everything due, without background tasks (for `sync --once`).

        A command that falls due for a retry within `wait_seconds` is waited for and sent; what is left after
        that (a retry further off) is in the report, with when it is due. Another process holding the runner
        lease sends instead of this one: then nothing is polled or sent here, and the report names it.
        """
        await self.prepare()
        lease = await self.store.db.write(self.store.leases.acquire, RUNNER, self.options.lease_seconds)
        if lease.holder.owner != self.store.holder.owner:
            self._other = lease
            depth = await self.store.db.read(self.store.outbox.depth)
            return OnceReport(depth, None, self.runner)
        consumer = self.spawn("intake", self.intake.run())
        deadline = time.monotonic() + wait_seconds
        try:
            await self.poller.poll_guarded()
            while True:
                await self.drain.run_until_idle()
                due = await self.store.db.read(self.store.outbox.next_due_at)
                if due is None or not self.connectivity.can_send or self.connectivity.state is Connectivity.OFFLINE:
                    break
                wait = due - time.time()
                if wait > deadline - time.monotonic():
                    break
                await asyncio.sleep(max(0.0, wait))
            depth = await self.store.db.read(self.store.outbox.depth)
            return OnceReport(depth, await self.store.db.read(self.store.outbox.next_due_at))
        finally:
            consumer.cancel()
            await asyncio.gather(consumer, return_exceptions=True)
            with contextlib.suppress(StorageError):
                await self.store.db.write(self.store.leases.release, RUNNER)

    async def wait_stuck(self, grace_seconds: float, poll_every: float = 0.2) -> Connectivity:
        """Return once sending cannot go on by itself: the token was rejected, or offline with commands queued.

        Offline counts only after `grace_seconds` in a row, so a short outage that the drain rides out does not.
        """
        offline_since: float | None = None
        while True:
            state = self.connectivity.state
            if state is Connectivity.AUTH_FAILED:
                return state
            if state is Connectivity.OFFLINE and (await self.store.db.read(self.store.outbox.depth)) > 0:
                offline_since = offline_since or time.monotonic()
                if time.monotonic() - offline_since >= grace_seconds:
                    return state
            else:
                offline_since = None
            await asyncio.sleep(poll_every)

    async def wait_idle(self, quiet_seconds: float, poll_every: float = 0.1) -> None:
        """Return after `quiet_seconds` with no new event, an empty intake queue and an empty outbox."""
        quiet_since = time.monotonic()
        seen = -1
        while True:
            depth = await self.store.db.read(self.store.outbox.depth)
            closes = await self.store.db.read(self.store.closes.count)
            busy = depth > 0 or self.intake.backlog > 0 or closes != seen
            if busy:
                seen = closes
                quiet_since = time.monotonic()
            elif time.monotonic() - quiet_since >= quiet_seconds:
                return
            await asyncio.sleep(poll_every)
