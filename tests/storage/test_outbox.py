"""The durable outbox: claim, settle, retry, and recovery after a crash."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import textwrap
import time
from dataclasses import replace
from pathlib import Path

from app.domain.history import SyncState
from app.domain.outbox import OutboxState
from app.domain.workflows import RunOutcome
from app.storage.outbox import Claim
from app.storage.store import Store
from tests.factories import close, unassign_plan

ROOT = Path(__file__).resolve().parents[2]


def _enqueue(store: Store, n: int) -> None:
    store.plans.commit_many([unassign_plan(close(i)) for i in range(1, n + 1)])


def test_claim_takes_due_commands_oldest_first_and_counts_the_attempt(store: Store) -> None:
    _enqueue(store, 5)
    first = store.outbox.claim_due(time.time(), limit=3)
    claimed = first.commands
    assert first.next_due_at is None  # a full claim does not look further
    assert [c.contact_id for c in claimed] == [1, 2, 3]
    assert all(c.state is OutboxState.IN_FLIGHT and c.attempts == 1 for c in claimed)
    assert [c.contact_id for c in store.outbox.claim_due(time.time(), limit=10).commands] == [4, 5]
    assert store.outbox.claim_due(time.time()) == Claim([], None)  # nothing pending at all
    assert store.outbox.depth() == 5


def test_enqueueing_the_same_idempotency_key_twice_keeps_one_command(store: Store) -> None:
    plan = unassign_plan(close(1))
    store.plans.commit(plan)
    original = plan.runs[0].actions[0].command
    assert original is not None
    # A new close whose command reuses the key: the close and run are stored, the command is not.
    replay = unassign_plan(close(1, closed_time=1_700_000_999, event_id="another"))
    run = replay.runs[0]
    action = run.actions[0]
    assert action.command is not None
    same_key = replace(action.command, idempotency_key=original.idempotency_key)
    replay = replace(replay, runs=(replace(run, actions=(replace(action, command=same_key),)),))
    result = store.plans.commit(replay)
    assert (len(result.runs), len(result.commands)) == (1, 0)
    assert store.outbox.depth() == 1


def test_settle_updates_command_change_and_run_together(store: Store) -> None:
    _enqueue(store, 1)
    (command,) = store.outbox.claim_due(time.time()).commands
    depth = store.outbox.settle(
        command, OutboxState.DONE, change_state=SyncState.SYNCED, run_outcome=RunOutcome.DONE, run_reason="unassigned"
    )
    assert depth == 0
    assert store.outbox.get(command.id or 0).state is OutboxState.DONE  # type: ignore[union-attr]
    assert store.history.get(command.change_id or 0).sync_state is SyncState.SYNCED  # type: ignore[union-attr]
    run = store.runs.get(command.run_id or 0)
    assert (run.outcome, run.reason) == (RunOutcome.DONE, "unassigned")
    assert store.outbox.depth() == 0


def test_failed_command_keeps_the_platform_message(store: Store) -> None:
    _enqueue(store, 1)
    (command,) = store.outbox.claim_due(time.time()).commands
    store.outbox.settle(command, OutboxState.FAILED, error="Contact not found", change_state=SyncState.FAILED)
    stored = store.outbox.get(command.id or 0)
    assert stored is not None and (stored.state, stored.last_error) == (OutboxState.FAILED, "Contact not found")
    assert store.outbox.by_state(OutboxState.FAILED) == [stored]


def test_retry_at_postpones_until_due(store: Store) -> None:
    _enqueue(store, 1)
    now = time.time()
    (command,) = store.outbox.claim_due(now).commands
    store.outbox.retry_at(command, now + 60, "503 Service Unavailable")
    assert store.outbox.claim_due(now + 59) == Claim([], now + 60)  # nothing due yet, and when it will be
    assert store.outbox.next_due_at() == now + 60
    (again,) = store.outbox.claim_due(now + 60).commands
    assert (again.attempts, again.last_error) == (2, "503 Service Unavailable")


def test_a_contacts_later_command_waits_until_the_earlier_one_is_settled(store: Store) -> None:
    now = time.time()
    later_close = close(7, closed_time=1_700_000_500)
    store.plans.commit_many([unassign_plan(close(7)), unassign_plan(close(8)), unassign_plan(later_close)])

    first = store.outbox.claim_due(now).commands
    assert [c.contact_id for c in first] == [7, 8]  # contact 7's second command waits behind its first
    store.outbox.retry_at(first[0], now + 60, "503 Service Unavailable")
    store.outbox.settle(first[1], OutboxState.DONE)

    assert store.outbox.claim_due(now + 1) == Claim([], now + 60)  # no overtaking while the first waits
    (again,) = store.outbox.claim_due(now + 60).commands
    assert again.id == first[0].id
    assert store.outbox.settle(again, OutboxState.DONE) == 1
    (last,) = store.outbox.claim_due(now + 61).commands
    assert last.contact_id == 7 and (last.id or 0) > (again.id or 0)


def test_recover_in_flight_returns_claimed_commands_to_pending(store: Store) -> None:
    _enqueue(store, 3)
    store.outbox.claim_due(time.time(), limit=2)
    assert store.outbox.recover_in_flight() == 2
    assert len(store.outbox.by_state(OutboxState.PENDING)) == 3
    assert store.outbox.recover_in_flight() == 0


CLAIMER = textwrap.dedent(
    """
    import sys, time
    from app.storage.store import Store
    store = Store.open(sys.argv[1])
    claimed = store.outbox.claim_due(time.time(), limit=4).commands
    print(",".join(str(c.id) for c in claimed), flush=True)
    time.sleep(60)
    """
)


def test_commands_claimed_by_a_killed_process_are_recovered_with_their_attempt_counted(
    store: Store, db_path: Path
) -> None:
    _enqueue(store, 6)
    command = [sys.executable, "-c", CLAIMER, f"sqlite:///{db_path}"]
    with subprocess.Popen(command, cwd=ROOT, stdout=subprocess.PIPE, text=True) as child:
        assert child.stdout is not None
        claimed = [int(i) for i in child.stdout.readline().strip().split(",")]
        os.kill(child.pid, signal.SIGKILL)
    assert claimed == [1, 2, 3, 4]

    reopened = Store.open(f"sqlite:///{db_path}")
    try:
        assert reopened.outbox.recover_in_flight() == 4
        again = reopened.outbox.claim_due(time.time(), limit=10).commands
        assert [c.id for c in again] == [1, 2, 3, 4, 5, 6]
        assert [c.attempts for c in again] == [2, 2, 2, 2, 1, 1]
    finally:
        reopened.close()
