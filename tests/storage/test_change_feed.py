"""The change feed reports what another connection to the same database commits, and leaves out what this one published.

On SQLite it polls; on PostgreSQL it is woken by the NOTIFY each writing transaction sends, and recovers a
dropped LISTEN connection.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import AsyncIterator, Iterator

import pytest
from sqlalchemy import text

from app.domain.history import SyncState
from app.domain.outbox import OutboxCommand, OutboxState
from app.domain.workflows import RunOutcome
from app.events import ChangeSet
from app.storage.change_feed import NotifyChangeFeed, PollingChangeFeed, change_feed
from app.storage.plans import CommitResult
from app.storage.store import Store
from tests.factories import close, unassign_plan
from tests.helpers import wait_until
from tests.pg import PgServer


@pytest.fixture
def other(db_url: str, store: Store) -> Iterator[Store]:
    """A second Store on the same database, as another process would open it."""
    opened = Store.open(db_url)
    yield opened
    opened.close()


@pytest.fixture
def feed(store: Store) -> Iterator[PollingChangeFeed]:
    opened = change_feed(store.db, interval=0.05)
    assert isinstance(opened, PollingChangeFeed)
    yield opened
    opened.close()


@pytest.fixture
async def notified(pg_store: Store) -> AsyncIterator[NotifyChangeFeed]:
    """A listening PostgreSQL feed whose fallback is too slow to matter: what it sees within a second, it heard."""
    opened = NotifyChangeFeed(pg_store.db, interval=0.05, fallback=60.0)
    await opened.begin()
    await wait_until(lambda: opened.listening)
    yield opened
    opened.close()


@pytest.fixture
def pg_store(pg_server: PgServer) -> Iterator[Store]:
    opened = Store.open(pg_server.new_database())
    yield opened
    opened.close()


@pytest.fixture
def pg_other(pg_store: Store) -> Iterator[Store]:
    opened = Store.open(pg_store.db.engine.url.render_as_string(hide_password=False))
    yield opened
    opened.close()


async def _next(feed: PollingChangeFeed, timeout: float = 5.0) -> ChangeSet:
    return await asyncio.wait_for(feed.next_change(), timeout)


def _ids(change: ChangeSet | CommitResult) -> tuple[tuple[int, ...], ...]:
    """The closes, runs, history changes and commands a change-set or a commit names."""
    return change.closes, change.runs, change.changes, change.commands


async def _expect(feed: PollingChangeFeed, result: CommitResult, depth: int) -> None:
    """The feed's next change-set names what `result` wrote, and the outbox depth after it."""
    change = await _next(feed)
    assert (_ids(change), change.outbox_depth) == (_ids(result), depth)


async def _settle_sent(store: Store, command: OutboxCommand) -> None:
    """Settle `command` as sent, as the runner's drain does."""
    await store.db.write(
        store.outbox.settle,
        command,
        OutboxState.DONE,
        change_state=SyncState.SYNCED,
        run_outcome=RunOutcome.DONE,
        run_reason="unassigned agent Maya",
    )


async def _quiet(feed: PollingChangeFeed, seconds: float = 0.5) -> bool:
    """True when the feed reports nothing for `seconds`."""
    try:
        await asyncio.wait_for(feed.next_change(), seconds)
    except TimeoutError:
        return True
    return False


async def test_a_close_committed_by_another_connection_is_reported_with_its_run_change_and_command(
    store: Store, other: Store, feed: PollingChangeFeed
) -> None:
    await feed.begin()  # the first look only notes where things stand
    result = await other.db.write(other.plans.commit, unassign_plan(close(501)))

    await _expect(feed, result, depth=1)


async def test_a_settle_by_another_connection_reports_the_command_its_history_row_its_run_and_its_close(
    store: Store, other: Store, feed: PollingChangeFeed
) -> None:
    result = await other.db.write(other.plans.commit, unassign_plan(close(502)))
    assert await _quiet(feed, 0.2)  # already there at the first look
    claim = await other.db.write(other.outbox.claim_due, 2e9)
    (command,) = claim.commands
    # The claim (pending → in flight) is not news to a lead: nothing to refresh yet.
    assert await _quiet(feed, 0.3)

    await _settle_sent(other, command)
    await _expect(feed, result, depth=0)


async def test_what_this_process_published_itself_is_not_reported_again(
    store: Store, other: Store, feed: PollingChangeFeed
) -> None:
    assert await _quiet(feed, 0.2)
    own = await store.db.write(store.plans.commit, unassign_plan(close(503)))
    feed.note_own(ChangeSet(closes=own.closes, runs=own.runs, changes=own.changes, commands=own.commands))
    assert await _quiet(feed)  # its own commit: no second refresh

    theirs = await other.db.write(other.plans.commit, unassign_plan(close(504)))
    change = await _next(feed)
    assert change.closes == theirs.closes
    assert change.runs == theirs.runs


@pytest.mark.sqlite_only
async def test_an_idle_database_is_looked_at_without_being_read(store: Store, feed: PollingChangeFeed) -> None:
    await feed.begin()
    await feed.begin()  # once begun, beginning again reads nothing
    assert await _quiet(feed, 0.6)
    assert feed.checks >= 5
    assert feed.reads == 1  # the first look; every later check saw the same data version


@pytest.mark.parametrize("looked_between", [True, False], ids=["seen queued first", "queued and settled at once"])
async def test_a_command_this_process_queued_is_reported_when_another_settles_it(
    store: Store, other: Store, feed: PollingChangeFeed, looked_between: bool
) -> None:
    """A watcher queues (an undo, a webhook's close); the runner sends it: the watcher's row must follow."""
    await feed.begin()
    own = await store.db.write(store.plans.commit, unassign_plan(close(505)))
    feed.note_own(ChangeSet(closes=own.closes, runs=own.runs, changes=own.changes, commands=own.commands))
    if looked_between:
        assert await _quiet(feed)
    (command,) = (await other.db.write(other.outbox.claim_due, 2e9)).commands
    await _settle_sent(other, command)
    change = await _next(feed)
    assert change.commands == own.commands
    assert change.runs == own.runs and change.changes == own.changes and change.closes == own.closes


def test_postgresql_gets_the_notified_feed_and_sqlite_the_polling_one(store: Store, backend: str) -> None:
    opened = change_feed(store.db)
    try:
        assert isinstance(opened, NotifyChangeFeed) == (backend == "postgres")
    finally:
        opened.close()


@pytest.mark.postgres
async def test_a_commit_by_another_store_is_heard_within_a_second(
    pg_store: Store, pg_other: Store, notified: NotifyChangeFeed
) -> None:
    for number in (601, 602, 603):
        committed_at = time.monotonic()
        result = await pg_other.db.write(pg_other.plans.commit, unassign_plan(close(number)))
        change = await _next(notified, timeout=1.0)
        assert time.monotonic() - committed_at < 1.0
        assert _ids(change) == _ids(result)
    assert notified.notifications >= 3


@pytest.mark.postgres
async def test_a_read_only_transaction_notifies_nobody(
    pg_store: Store, pg_other: Store, notified: NotifyChangeFeed
) -> None:
    heard = notified.notifications
    await pg_other.db.write(pg_other.outbox.claim_due, 2e9)  # a writer's transaction that finds nothing to write
    await pg_other.db.write(pg_other.plans.commit, unassign_plan(close(611)))
    await _next(notified, timeout=1.0)
    assert notified.notifications == heard + 1


@pytest.mark.postgres
async def test_a_dropped_listen_connection_is_said_and_recovers(
    pg_store: Store, pg_other: Store, notified: NotifyChangeFeed, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.INFO, "closeout.storage")
    dropped = notified.listener_pid
    with pg_other.db.engine.connect() as connection:
        connection.execute(text("SELECT pg_terminate_backend(:pid)"), {"pid": dropped})
    # Dropped: what is committed meanwhile is still read (by polling, then by the re-read on listening again).
    result = await pg_other.db.write(pg_other.plans.commit, unassign_plan(close(621)))
    change = await _next(notified, timeout=5.0)
    assert _ids(change) == _ids(result)
    assert "stopped hearing commits" in caplog.text
    await wait_until(lambda: notified.listening and notified.listener_pid != dropped, timeout=10.0)
    assert "hears commits" in caplog.text

    committed_at = time.monotonic()
    again = await pg_other.db.write(pg_other.plans.commit, unassign_plan(close(622)))
    change = await _next(notified, timeout=1.0)
    assert time.monotonic() - committed_at < 1.0
    assert _ids(change) == _ids(again)
