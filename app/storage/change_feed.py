"""What other connections commit, as change-sets: how a window that only watches the runner stays live.

Several Closeout processes may share one database, and only one of them (the runner) closes, sends and polls.
The others would otherwise show what they committed themselves and nothing else. A `ChangeFeed` notices
commits made by any other connection, in this process or another, and describes them as the same
`ChangeSet` a local commit publishes, so every view refreshes through the change-set handling it already has.

The interface, for every implementation (SQLite polls `PRAGMA data_version`; PostgreSQL listens for the
NOTIFY each writing transaction sends at commit, and polls slowly in case one is lost):

- `await feed.begin()` notes where things stand: what others commit after it is reported. Called before the
  views first load, so nothing falls between their load and the feed's first look. `next_change` begins by
  itself when nobody did.
- `await feed.next_change()` waits until others have committed something and returns what it touched (ids of
  closes, runs, history changes, commands and workflows; `agents_changed`; `outbox_depth`). It never returns
  an empty change-set. It is called again and again by one task (the sync service's), on the event loop;
  blocking database work happens off the loop.
- `feed.note_own(change)` is given every change-set this process publishes. Each time an id is named there
  is one of this process's changes to that row: the feed leaves out as many changes to it as this process
  published (for a few seconds), and reports the rest. So the process that made a change does not refresh it
  twice, while a watcher still sees the runner settle the command the watcher queued (one publication, the
  queueing; two changes seen, the queueing and the settle). At worst a row refreshes twice; never in a loop,
  since refreshing only reads.
- `feed.close()` releases its connection and thread; `next_change` must not be awaited after it.

Contacts changed elsewhere are not reported (no view follows contacts by id), nor are commands that move
between pending and in flight: what a lead sees changes when a command settles.
"""

from __future__ import annotations

import abc
import asyncio
import contextlib
import logging
import threading
import time
from collections.abc import Iterable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field, replace
from typing import Any

from sqlalchemy import Connection
from sqlalchemy.exc import DBAPIError

from app.domain.errors import StorageError
from app.domain.outbox import OutboxState
from app.domain.workflows import RunOutcome
from app.events import ChangeSet
from app.storage.database import PG_CHANGES_CHANNEL, Database, _mark_reader_thread, translate
from app.storage.models import AGENTS, CHANGES, CLOSES, OUTBOX, RUNS, WORKFLOWS

log = logging.getLogger("closeout.storage")

POLL_SECONDS = 0.5
OWN_SECONDS = 10.0
"""How long an id this process published stays left out of what the feed reports."""
MAX_NEW = 5000
"""At most this many new rows of a kind per change-set (the newest): far behind, only the newest can show."""
ACTIVE = (OutboxState.PENDING.value, OutboxState.IN_FLIGHT.value)
KINDS = ("closes", "runs", "changes", "commands", "workflows")
FALLBACK_SECONDS = 5.0
"""While listening, the feed still reads this often: a notification lost without its connection is late, not lost."""
STOP_CHECK_SECONDS = 0.2
"""How often the listening thread looks up from its wait to see whether the feed is closing."""
RECONNECT_SECONDS = (0.5, 5.0)
"""The first and the longest wait between attempts to listen again after the connection dropped."""


class ChangeFeed(abc.ABC):
    """Commits made by other connections, as change-sets (see the module's docstring for the contract)."""

    @abc.abstractmethod
    async def begin(self) -> None:
        """Note where things stand now; what others commit from here on is reported."""

    @abc.abstractmethod
    async def next_change(self) -> ChangeSet:
        """Wait for commits by other connections and return what they touched (never empty)."""

    @abc.abstractmethod
    def note_own(self, change: ChangeSet) -> None:
        """Leave the ids this process published in `change` out of what the feed reports next."""

    @abc.abstractmethod
    def close(self) -> None:
        """Release the connection and the thread."""


@dataclass(slots=True)
class _Seen:
    """What the feed has already read: the newest id of each table, unsettled commands, waiting runs."""

    version: Any = None
    newest: dict[str, int] = field(default_factory=dict)
    active: dict[int, str] = field(default_factory=dict)
    waiting: set[int] = field(default_factory=set)
    workflows_at: float = 0.0
    agents_at: float = 0.0


class PollingChangeFeed(ChangeFeed):
    """Reads what changed every `interval` seconds on a connection and a thread of its own.

    On SQLite, `PRAGMA data_version` (which changes when any other connection commits) tells in microseconds
    whether there is anything to read, so an idle feed costs one pragma per interval. What changed is then read
    by id: rows newer than the newest seen, commands that were unsettled and are no longer, runs that were
    waiting and are no longer; each from an index. On another database there is no such pragma, and the
    reading runs every interval.
    """

    def __init__(self, db: Database, interval: float = POLL_SECONDS) -> None:
        """Follow `db`; nothing is read until the first `next_change`."""
        self._db = db
        self.interval = interval
        self._thread = ThreadPoolExecutor(1, "closeout-change-feed", initializer=_mark_reader_thread)
        self._connection: Connection | None = None
        self._seen: _Seen | None = None
        self._closed = False
        self._own: dict[str, dict[int, tuple[float, int]]] = {kind: {} for kind in KINDS}
        """By kind and id: until when this process's publications of it count, and how many are left."""
        """By kind, each id this process published, and until when it is left out."""
        self.checks = 0
        """How many times the feed looked (for the benchmark)."""
        self.reads = 0
        """How many of those found commits and read what changed."""
        self.problem: str | None = None
        """Why the database cannot be read right now, in words; None while it can."""

    async def begin(self) -> None:
        """Take the first look now, on the feed's thread (later calls do nothing)."""
        await asyncio.get_running_loop().run_in_executor(self._thread, self._first_check)

    async def next_change(self) -> ChangeSet:
        """Look every `interval` seconds until others have committed something this process did not publish.

        A database that cannot be read (a server gone away) is said once in the log and in `problem`, and
        looked at again every interval: once it is back, everything committed meanwhile is read and reported.
        """
        loop = asyncio.get_running_loop()
        while True:
            self._before_look()
            try:
                found = await loop.run_in_executor(self._thread, self._check)
            except StorageError as exc:
                self._unreadable(exc)
                found = None
            else:
                self._readable()
            if found is not None:
                change = self._without_own(*found)
                if not change.is_empty:
                    return change
            await self._wait()

    def _before_look(self) -> None:
        """Called on the loop just before each look (a feed woken by notifications forgets them here)."""

    async def _wait(self) -> None:
        """Wait until the next look is due."""
        await asyncio.sleep(self.interval)

    def _unreadable(self, exc: StorageError) -> None:
        if self.problem is None:
            log.warning("the change feed cannot read the database: %s Looking again every %.1f s.", exc, self.interval)
        self.problem = str(exc)

    def _readable(self) -> None:
        if self.problem is not None:
            log.info("the change feed reads the database again")
        self.problem = None

    def note_own(self, change: ChangeSet) -> None:
        """Count one change of this process's to each row `change` names, for OWN_SECONDS."""
        until = time.monotonic() + OWN_SECONDS
        for kind in KINDS:
            own = self._own[kind]
            for item in getattr(change, kind):
                own[item] = (until, own.get(item, (0.0, 0))[1] + 1)

    def close(self) -> None:
        """Close the connection on the feed's own thread, then the thread (a second call does nothing)."""
        if self._closed:
            return
        self._closed = True
        if self._connection is not None:
            self._thread.submit(self._close_connection).result()
        self._thread.shutdown(wait=True)

    # -- on the feed's thread ----------------------------------------------------------------------------

    def _close_connection(self) -> None:
        if self._connection is not None:
            self._connection.close()
            self._connection = None

    def _first_check(self) -> None:
        if self._seen is None:
            self._check()

    def _check(self) -> tuple[ChangeSet, dict[int, int], dict[str, set[int]], dict[str, set[int]]] | None:
        """What others committed since the last look, and the close of each run named; None when nothing."""
        self.checks += 1
        try:
            if self._connection is None:
                self._connection = self._db.engine.connect()
        except DBAPIError as exc:
            raise (translate(exc, self._db.where) or exc) from exc
        connection = self._connection
        try:
            version = self._version(connection)
            if self._seen is not None and version is not None and version == self._seen.version:
                return None
            self.reads += 1
            if self._seen is None:
                self._seen = self._first_look(connection, version)
                return None
            return self._read_changes(connection, self._seen, version)
        except DBAPIError as exc:
            self._drop_connection()  # a broken connection is replaced at the next look
            raise (translate(exc, self._db.where) or exc) from exc
        finally:
            if not connection.closed and connection.in_transaction():
                connection.rollback()  # end the read, so the next one sees what was committed since

    def _drop_connection(self) -> None:
        connection, self._connection = self._connection, None
        if connection is not None:
            connection.invalidate()
            connection.close()

    def _version(self, connection: Connection) -> Any:
        if connection.dialect.name != "sqlite":
            return None
        # On the driver's connection, outside any transaction: an idle look costs this one statement.
        driver = connection.connection.driver_connection
        assert driver is not None
        return driver.execute("PRAGMA data_version").fetchone()[0]

    def _first_look(self, connection: Connection, version: Any) -> _Seen:
        seen = _Seen(version)
        for table in (CLOSES, RUNS, CHANGES, OUTBOX):
            seen.newest[table.name] = _scalar(connection, f"SELECT max(id) FROM {table.name}") or 0
        seen.active = _active(connection)
        seen.waiting = {
            int(row[0])
            for row in _rows(connection, f"SELECT id FROM {RUNS.name} WHERE outcome = ?", (RunOutcome.WAITING.value,))
        }
        seen.workflows_at = float(_scalar(connection, f"SELECT max(updated_at) FROM {WORKFLOWS.name}") or 0.0)
        seen.agents_at = float(_scalar(connection, f"SELECT max(updated_at) FROM {AGENTS.name}") or 0.0)
        return seen

    def _read_changes(
        self, connection: Connection, seen: _Seen, version: Any
    ) -> tuple[ChangeSet, dict[int, int], dict[str, set[int]], dict[str, set[int]]]:
        """What changed since `seen`, the close of each run named, and by kind the ids of new and of changed rows."""
        seen.version = version
        closes = {int(row[0]) for row in self._new_ids(connection, seen, CLOSES.name, "id")}
        fresh: dict[str, set[int]] = {kind: set() for kind in KINDS}
        fresh["closes"].update(closes)
        runs: set[int] = set()
        undone: set[int] = set()
        new_runs = self._new_ids(connection, seen, RUNS.name, "id, conversation_id, key, outcome")
        for run_id, _close_id, key, outcome in new_runs:
            runs.add(run_id)
            fresh["runs"].add(run_id)
            if str(key).startswith("undo:") and str(key)[5:].isdigit():
                undone.add(int(str(key)[5:]))
            if outcome == RunOutcome.WAITING.value:
                seen.waiting.add(run_id)
        changes: set[int] = set()
        for change_id, run_id in self._new_ids(connection, seen, CHANGES.name, "id, run_id"):
            changes.add(change_id)
            fresh["changes"].add(change_id)
            if run_id is not None:
                runs.add(int(run_id))
        commands: set[int] = set()
        active = _active(connection)
        # Commands that were unsettled and are no longer (or were queued and settled since the last look):
        # their history row and run changed with them.
        settled = [command_id for command_id in seen.active if command_id not in active]
        updated: dict[str, set[int]] = {kind: set() for kind in KINDS}
        for command_id, run_id, change_id in self._new_ids(connection, seen, OUTBOX.name, "id, run_id, change_id"):
            commands.add(command_id)
            fresh["commands"].add(command_id)
            _add(runs, run_id)
            _add(changes, change_id)
            if command_id not in active:
                settled.append(command_id)
        for command_id, run_id, change_id in _by_ids(connection, OUTBOX.name, "id, run_id, change_id", settled):
            commands.add(command_id)
            updated["commands"].add(command_id)
            _add(runs, run_id)
            _add(updated["runs"], run_id)
            _add(changes, change_id)
            _add(updated["changes"], change_id)
        depth = len(active) if len(active) != len(seen.active) or settled else None
        seen.active = active
        # Runs that waited for someone to assign and no longer wait.
        resumed = [
            run_id
            for run_id, outcome in _by_ids(connection, RUNS.name, "id, outcome", sorted(seen.waiting))
            if outcome != RunOutcome.WAITING.value
        ]
        seen.waiting.difference_update(resumed)
        runs.update(resumed)
        runs.update(undone)
        updated["runs"].update(resumed, undone)
        # Every run named leads to its close, so the queue refreshes the row it shows for it.
        run_closes = {
            run_id: int(close_id)
            for run_id, close_id in _by_ids(connection, RUNS.name, "id, conversation_id", sorted(runs))
            if close_id is not None
        }
        saved = _rows(
            connection, f"SELECT id, updated_at FROM {WORKFLOWS.name} WHERE updated_at > ?", (seen.workflows_at,)
        )
        workflows = [int(row[0]) for row in saved]
        updated["workflows"].update(workflows)
        # From the rows read, not a second statement: on PostgreSQL each statement sees its own snapshot, and a
        # workflow saved between the two would be skipped for good.
        seen.workflows_at = max([seen.workflows_at, *(float(row[1]) for row in saved)])
        agents_at = float(_scalar(connection, f"SELECT max(updated_at) FROM {AGENTS.name}") or 0.0)
        agents_changed, seen.agents_at = agents_at > seen.agents_at, agents_at
        change = ChangeSet(
            closes=tuple(sorted(closes)),
            runs=tuple(sorted(runs)),
            changes=tuple(sorted(changes)),
            commands=tuple(sorted(commands)),
            workflows=tuple(sorted(workflows)),
            agents_changed=agents_changed,
            outbox_depth=depth,
        )
        return change, run_closes, fresh, updated

    def _new_ids(self, connection: Connection, seen: _Seen, table: str, columns: str) -> list[tuple[Any, ...]]:
        """Rows of `table` added since the last look (the newest MAX_NEW), first column the id."""
        newest = _scalar(connection, f"SELECT max(id) FROM {table}") or 0
        after = max(seen.newest.get(table, 0), newest - MAX_NEW)
        seen.newest[table] = max(newest, seen.newest.get(table, 0))
        if newest <= after:
            return []
        statement = f"SELECT {columns} FROM {table} WHERE id > ? AND id <= ? ORDER BY id"
        return [(int(row[0]), *row[1:]) for row in _rows(connection, statement, (after, newest))]

    # -- on the event loop ---------------------------------------------------------------------------------

    def _without_own(
        self,
        change: ChangeSet,
        run_closes: dict[int, int],
        fresh: dict[str, set[int]],
        updated: dict[str, set[int]],
    ) -> ChangeSet:
        """`change` without what this process published; the closes of the runs left are added.

        A row seen new and changed counts two changes; one only named (a run a new history row belongs to) none.
        """
        now = time.monotonic()
        kept: dict[str, tuple[int, ...]] = {}
        for kind in KINDS:
            own = self._own[kind]
            for item, (until, _count) in list(own.items()):
                if until < now:
                    del own[item]
            kept[kind] = tuple(
                item
                for item in getattr(change, kind)
                if not _ours(own, item, (item in fresh[kind]) + (item in updated[kind]))
            )
        closes = set(kept["closes"]) | {run_closes[run] for run in kept["runs"] if run in run_closes}
        if not closes and not any(kept.values()) and not change.agents_changed:
            return ChangeSet()  # only this process's own work (the depth it changed, it published itself)
        return replace(
            change,
            closes=tuple(sorted(closes)),
            runs=kept["runs"],
            changes=kept["changes"],
            commands=kept["commands"],
            workflows=kept["workflows"],
        )


def _ours(own: dict[int, tuple[float, int]], item: int, seen: int) -> bool:
    """True when this process published the `seen` changes to `item` itself (each publication counts once)."""
    until, published = own.get(item, (0.0, 0))
    if item not in own or published < seen:
        own.pop(item, None)  # someone else changed it too: report, and count afresh from here
        return False
    if seen:
        own[item] = (until, published - seen)
    return True


class NotifyChangeFeed(PollingChangeFeed):
    """PostgreSQL: reads what changed as soon as a commit's NOTIFY arrives, and every FALLBACK_SECONDS anyway.

    A thread of its own holds one psycopg connection in autocommit that LISTENs on PG_CHANGES_CHANNEL (every
    writing transaction notifies it at commit, see `app.storage.database`). Each notification wakes the
    reader, which reads what changed by id exactly as the polling feed does, so many commits in a burst cost
    one read. When that connection drops, the feed says so in the log, reads every `interval` seconds
    meanwhile, and listens again with growing pauses; each time it is listening again it reads once more,
    for what was committed while nobody listened.
    """

    def __init__(self, db: Database, interval: float = POLL_SECONDS, fallback: float = FALLBACK_SECONDS) -> None:
        """Follow `db`; the listening thread starts at `begin` or the first `next_change`."""
        super().__init__(db, interval)
        self.fallback = fallback
        self.listening = False
        """True while the LISTEN connection is up."""
        self.listener_pid: int | None = None
        """The server process of the LISTEN connection (a test ends it to see the feed recover)."""
        self.notifications = 0
        """How many notifications arrived (the benchmark's and the tests' measure)."""
        self._listener: threading.Thread | None = None
        self._stop = threading.Event()
        self._loop: asyncio.AbstractEventLoop | None = None
        self._wake: asyncio.Event | None = None

    async def begin(self) -> None:
        """Start listening, then take the first look (what lands in between is read when listening starts)."""
        self._start_listening()
        await super().begin()

    async def next_change(self) -> ChangeSet:
        """Wait for a notification (or the fallback's interval) and read what others committed."""
        self._start_listening()
        return await super().next_change()

    def close(self) -> None:
        """Stop listening, then close the reading connection and thread."""
        self._stop.set()
        if self._listener is not None:
            self._listener.join()
        super().close()

    def _start_listening(self) -> None:
        if self._listener is not None:
            return
        self._loop = asyncio.get_running_loop()
        self._wake = asyncio.Event()
        self._listener = threading.Thread(target=self._listen, name="closeout-change-listener", daemon=True)
        self._listener.start()

    def _before_look(self) -> None:
        assert self._wake is not None
        self._wake.clear()  # a notification from here on is for a commit this look may not see: it wakes the next

    async def _wait(self) -> None:
        assert self._wake is not None
        timeout = self.fallback if self.listening and self.problem is None else self.interval
        # asyncio.timeout rather than wait_for: on Python 3.11 wait_for can swallow a cancel that arrives as the
        # event is set, and the feed's task would then never stop.
        with contextlib.suppress(TimeoutError):  # the fallback's look: for a notification that never came
            async with asyncio.timeout(timeout):
                await self._wake.wait()

    # -- on the listening thread ---------------------------------------------------------------------------

    def _signal(self) -> None:
        loop, wake = self._loop, self._wake
        if loop is None or wake is None or loop.is_closed():
            return
        with contextlib.suppress(RuntimeError):  # the loop closed since the check: nobody waits any more
            loop.call_soon_threadsafe(wake.set)

    def _connect(self) -> Any:
        import psycopg  # only a PostgreSQL database needs the driver

        engine = self._db.engine
        args, params = engine.dialect.create_connect_args(engine.url)
        params = {"connect_timeout": 5, "keepalives": 1, "keepalives_idle": 5, **params}
        return psycopg.connect(*args, **params, autocommit=True)

    def _listen(self) -> None:
        """Keep a LISTEN connection up until the feed closes, reconnecting with growing pauses."""
        import psycopg

        pause, lost = RECONNECT_SECONDS[0], False
        while not self._stop.is_set():
            try:
                with self._connect() as connection:
                    connection.execute(f"LISTEN {PG_CHANGES_CHANNEL}")
                    self.listener_pid = connection.info.backend_pid
                    self.listening, pause = True, RECONNECT_SECONDS[0]
                    if lost:
                        log.info("the change feed hears commits on %s again", self._db.where)
                        lost = False
                    self._signal()  # read what was committed while nobody listened
                    while not self._stop.is_set():
                        for _notification in connection.notifies(timeout=STOP_CHECK_SECONDS, stop_after=1):
                            self.notifications += 1
                            self._signal()
            except (psycopg.Error, OSError) as exc:
                was_listening, self.listening = self.listening, False
                if was_listening or not lost:
                    words = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
                    log.warning(
                        "the change feed stopped hearing commits on %s (%s); reading every %.1f s until it is back",
                        self._db.where,
                        words,
                        self.interval,
                    )
                lost = True
                self._signal()
                self._stop.wait(pause)
                pause = min(RECONNECT_SECONDS[1], pause * 2)
        self.listening = False


def change_feed(db: Database, interval: float = POLL_SECONDS) -> ChangeFeed:
    """The change feed for `db`: notified on PostgreSQL, polled on SQLite."""
    if db.engine.dialect.name == "postgresql":
        return NotifyChangeFeed(db, interval)
    return PollingChangeFeed(db, interval)


def _add(ids: set[int], value: object) -> None:
    if value is not None:
        ids.add(int(str(value)))


def _placeholders(connection: Connection, statement: str) -> str:
    return statement if connection.dialect.paramstyle == "qmark" else statement.replace("?", "%s")


def _rows(connection: Connection, statement: str, params: tuple[Any, ...] = ()) -> list[tuple[Any, ...]]:
    return [tuple(row) for row in connection.exec_driver_sql(_placeholders(connection, statement), params)]


def _scalar(connection: Connection, statement: str) -> Any:
    return connection.exec_driver_sql(statement).scalar()


def _active(connection: Connection) -> dict[int, str]:
    statement = f"SELECT id, state FROM {OUTBOX.name} WHERE state IN (?, ?)"
    return {int(command_id): str(state) for command_id, state in _rows(connection, statement, ACTIVE)}


def _by_ids(connection: Connection, table: str, columns: str, ids: Iterable[int]) -> list[tuple[Any, ...]]:
    wanted = list(ids)
    found: list[tuple[Any, ...]] = []
    for start in range(0, len(wanted), 500):
        chunk = tuple(wanted[start : start + 500])
        statement = f"SELECT {columns} FROM {table} WHERE id IN ({', '.join(['?'] * len(chunk))})"
        found.extend((int(row[0]), *row[1:]) for row in _rows(connection, statement, chunk))
    return found
