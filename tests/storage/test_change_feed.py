"""The change feed reports what another connection to the same file commits, and leaves out what this one published."""

from __future__ import annotations

import asyncio
from collections.abc import Iterator
from pathlib import Path

import pytest

from app.domain.history import SyncState
from app.domain.outbox import OutboxState
from app.domain.workflows import RunOutcome
from app.events import ChangeSet
from app.storage.change_feed import PollingChangeFeed
from app.storage.plans import CommitResult
from app.storage.store import Store
from tests.factories import close, unassign_plan


@pytest.fixture
def other(db_path: Path, store: Store) -> Iterator[Store]:
    """A second Store on the same file, as another process would open it."""
    opened = Store.open(f"sqlite:///{db_path}")
    yield opened
    opened.close()


@pytest.fixture
def feed(store: Store) -> Iterator[PollingChangeFeed]:
    opened = PollingChangeFeed(store.db, interval=0.05)
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

    await other.db.write(
        other.outbox.settle,
        command,
        OutboxState.DONE,
        change_state=SyncState.SYNCED,
        run_outcome=RunOutcome.DONE,
        run_reason="unassigned agent Maya",
    )
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
    await other.db.write(
        other.outbox.settle,
        command,
        OutboxState.DONE,
        change_state=SyncState.SYNCED,
        run_outcome=RunOutcome.DONE,
        run_reason="unassigned agent Maya",
    )
    change = await _next(feed)
    assert change.commands == own.commands
    assert change.runs == own.runs and change.changes == own.changes and change.closes == own.closes
