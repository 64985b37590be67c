"""A plan commits in one transaction: all of it or none of it, and a replayed event commits nothing."""

from __future__ import annotations

import dataclasses
import os
import signal
import subprocess
import sys
import textwrap
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pytest
from sqlalchemy import create_engine, insert, text
from sqlalchemy.exc import IntegrityError

from app.domain.conversations import ClosedBySource
from app.domain.history import SyncState
from app.domain.outbox import OutboxState
from app.domain.plan import Plan, PlannedAction, PlannedRun
from app.domain.workflows import RunOutcome
from app.storage.history import HistoryFilter
from app.storage.models import CLOSES
from app.storage.rows import close_values
from app.storage.store import Store
from tests.factories import MAYA, close, unassign_plan

ROOT = Path(__file__).resolve().parents[2]


def _counts(url: str) -> dict[str, int]:
    engine = create_engine(url)
    try:
        with engine.connect() as connection:
            tables = ("closes", "runs", "changes", "outbox")
            return {t: connection.execute(text(f"SELECT count(*) FROM {t}")).scalar_one() for t in tables}
    finally:
        engine.dispose()


def test_commit_writes_every_part_of_the_plan_and_links_them(store: Store) -> None:
    result = store.plans.commit(unassign_plan(close(42)))

    assert len(result.closes) == len(result.runs) == len(result.changes) == len(result.commands) == 1
    run = store.runs.get(result.runs[0])
    assert run.conversation_id == result.closes[0]
    change = store.history.get(result.changes[0])
    assert change is not None
    assert (change.run_id, change.conversation_id, change.workflow_id) == (run.id, run.conversation_id, 1)
    assert (change.from_agent_id, change.to_agent_id, change.sync_state) == (MAYA.id, None, SyncState.PENDING)
    command = store.outbox.get(result.commands[0])
    assert command is not None
    assert (command.run_id, command.change_id, command.state) == (run.id, change.id, OutboxState.PENDING)
    cached = store.cache.contact(42)
    assert cached is not None and cached.assignee is None


def test_replayed_event_commits_nothing(store: Store, db_url: str) -> None:
    store.plans.commit(unassign_plan(close(42, event_id="e1")))
    before = _counts(db_url)

    by_event = store.plans.commit(unassign_plan(close(42, closed_time=1_700_000_500, event_id="e1")))
    by_contact_and_time = store.plans.commit(unassign_plan(close(42, event_id="other-id")))

    assert by_event.duplicates == by_contact_and_time.duplicates == 1
    assert by_event.runs == by_contact_and_time.runs == ()
    assert _counts(db_url) == before


def test_duplicates_inside_one_batch_are_dropped(store: Store, db_url: str) -> None:
    plans = [unassign_plan(close(1, event_id="a")), unassign_plan(close(1, event_id="a")), unassign_plan(close(2))]
    result = store.plans.commit_many(plans)
    assert result.duplicates == 1
    assert _counts(db_url) == {"closes": 2, "runs": 2, "changes": 2, "outbox": 2}


def test_a_failure_mid_transaction_leaves_nothing(store: Store, db_url: str) -> None:
    good = unassign_plan(close(1))
    bad_run = good.runs[0]
    assert bad_run.actions[0].change is not None
    # A NULL actor violates NOT NULL on the history table, after the close and run rows were inserted.
    broken_change = dataclasses.replace(bad_run.actions[0].change, actor=None)  # type: ignore[arg-type]
    broken = Plan(
        close=close(2),
        runs=(PlannedRun(dataclasses.replace(bad_run.run, key="2:x"), (PlannedAction(broken_change, None),)),),
    )

    with pytest.raises(IntegrityError):
        store.plans.commit_many([good, broken])

    assert _counts(db_url) == {"closes": 0, "runs": 0, "changes": 0, "outbox": 0}
    assert store.cache.contact(1) is None


def test_undo_plan_marks_the_run_and_its_changes_undone(store: Store) -> None:
    first = store.plans.commit(unassign_plan(close(5)))
    run_id = first.runs[0]
    store.plans.commit(Plan(undo_of=run_id))
    assert store.runs.get(run_id).undone
    assert [c.sync_state for c in store.history.for_run(run_id)] == [SyncState.UNDONE]


def test_first_changes_of_many_runs_come_in_one_lookup(store: Store) -> None:
    run_ids = [store.plans.commit(unassign_plan(close(n))).runs[0] for n in (11, 12, 13)]

    first = store.history.first_for_runs([*run_ids, 999_999])

    assert first == {run_id: store.history.for_run(run_id)[0] for run_id in run_ids}
    assert store.history.first_for_runs([]) == {}


WRITER = textwrap.dedent(
    """
    import sys
    from app.storage.store import Store
    from tests.factories import close, unassign_plan
    store = Store.open(sys.argv[1])
    print("ready", flush=True)
    i = 0
    while True:
        store.plans.commit_many([unassign_plan(close(i * 10 + k)) for k in range(10)])
        i += 1
    """
)


@pytest.mark.slow
def test_kill_9_during_commits_leaves_only_whole_plans(db_url: str) -> None:
    Store.open(db_url).close()
    for _ in range(3):
        command = [sys.executable, "-c", WRITER, db_url]
        with subprocess.Popen(command, cwd=ROOT, stdout=subprocess.PIPE, text=True) as child:
            assert child.stdout is not None
            assert child.stdout.readline().strip() == "ready"
            before = _counts(db_url)["closes"]
            deadline = time.monotonic() + 30
            while _counts(db_url)["closes"] < before + 50 and time.monotonic() < deadline:
                time.sleep(0.01)
            os.kill(child.pid, signal.SIGKILL)  # lands wherever the writer is: often inside a transaction

    store = Store.open(db_url)
    try:
        counts = _counts(db_url)
        assert counts["closes"] > 0
        assert counts["closes"] % 10 == 0
        assert counts == {"closes": counts["closes"]} | dict.fromkeys(("runs", "changes", "outbox"), counts["closes"])
        assert store.history.count(HistoryFilter()) == counts["changes"]
    finally:
        store.close()


def test_a_waiting_run_resumed_twice_assigns_and_records_once(store: Store) -> None:
    waiting = unassign_plan(close(7))  # its run is stored as waiting
    result = store.plans.commit(dataclasses.replace(waiting, runs=(dataclasses.replace(waiting.runs[0], actions=()),)))
    (run_id,) = result.runs
    resumed_run = dataclasses.replace(store.runs.get(run_id), outcome=RunOutcome.DONE, reason="assigned Maya Lee")
    action = waiting.runs[0].actions[0]
    again = dataclasses.replace(action, command=dataclasses.replace(action.command, idempotency_key="assign:1:w7"))
    resume = Plan(runs=(PlannedRun(resumed_run, (again,)),))

    store.plans.commit(resume)
    store.plans.commit(resume)  # another process resumed the same wait from its own read

    assert [c.run_id for c in store.history.page(HistoryFilter()).rows] == [run_id]
    assert store.outbox.depth() == 1


def _detected(contact_id: int, closed_time: int, opened_time: int | None) -> Plan:
    found = dataclasses.replace(
        close(contact_id, closed_time, event_id=f"poll:{contact_id}:{closed_time + 60}"),
        closed_by_source=ClosedBySource.DETECTED_BY_POLL,
        closed_by=None,
        opened_time=opened_time,
        detected_at=closed_time + 60,
    )
    return unassign_plan(found)


def test_a_close_the_poll_found_after_a_reopening_is_new_though_the_cache_shows_the_contact_closed(
    store: Store,
) -> None:
    first = close(9, closed_time=1_700_000_000)
    assert store.plans.commit(unassign_plan(first)).closes  # the cache now shows contact 9 closed
    # A message at 1_700_000_500 says it reopened since: the close the poll lists now is another one.
    assert store.plans.commit(_detected(9, 1_700_000_600, opened_time=1_700_000_500)).closes
    # Without that, a poll close of a contact the cache shows closed is the one already recorded.
    assert not store.plans.commit(_detected(9, 1_700_000_700, opened_time=None)).closes


def test_a_close_the_poll_found_after_a_reopening_is_dropped_once_a_webhook_recorded_that_close(store: Store) -> None:
    store.plans.commit(unassign_plan(close(10, closed_time=1_700_000_000)))
    # The webhook of the new close committed between the poll's look at the cache and its commit.
    assert store.plans.commit(unassign_plan(close(10, closed_time=1_700_000_550))).closes
    assert not store.plans.commit(_detected(10, 1_700_000_600, opened_time=1_700_000_500)).closes


def test_one_webhook_delivered_to_two_receivers_at_once_is_one_close(db_url: str) -> None:
    """Two processes' Stores commit the same closes at the same moment: each close is recorded once."""
    receivers = [Store.open(db_url), Store.open(db_url)]
    total = 40
    start_together = threading.Barrier(2)

    def deliver(receiver: Store) -> list[tuple[int, int]]:
        outcomes = []
        for n in range(total):
            start_together.wait(timeout=10)
            result = receiver.plans.commit(unassign_plan(close(100 + n, event_id=f"delivered-{n}")))
            outcomes.append((len(result.closes), result.duplicates))
        return outcomes

    try:
        with ThreadPoolExecutor(max_workers=2) as pool:
            first, second = pool.map(deliver, receivers)
    finally:
        for receiver in receivers:
            receiver.close()
    # Each close: one receiver recorded it, the other found it recorded.
    assert [sorted(pair) for pair in zip(first, second, strict=True)] == [[(0, 1), (1, 0)]] * total
    assert _counts(db_url) == dict.fromkeys(("closes", "runs", "changes", "outbox"), total)


@pytest.mark.parametrize(
    ("event_id", "contact_id", "closed_time"),
    [("same-event", 2, 1_700_000_999), ("other-event", 1, 1_700_000_000)],
    ids=["event id", "contact and closed time"],
)
def test_the_database_itself_refuses_a_second_copy_of_a_close(
    store: Store, db_url: str, event_id: str, contact_id: int, closed_time: int
) -> None:
    store.plans.commit(unassign_plan(close(1, event_id="same-event")))
    row = close_values(close(contact_id, closed_time, event_id=event_id), time.time())
    with pytest.raises(IntegrityError), store.db.engine.begin() as connection:
        connection.execute(insert(CLOSES).values(row))
    assert _counts(db_url)["closes"] == 1
