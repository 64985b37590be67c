"""The durable outbox: claim, settle, retry, and recovery after a crash."""

from __future__ import annotations

import asyncio
import os
import signal
import subprocess
import sys
import textwrap
import time
from dataclasses import replace
from pathlib import Path

import pytest

from app.domain.history import SyncState
from app.domain.outbox import OutboxState
from app.domain.secret import Secret
from app.domain.workflows import RunOutcome
from app.events import EventBus
from app.platform.client import PlatformClient
from app.storage.outbox import Claim
from app.storage.store import Store
from app.sync.service import SyncOptions, SyncService
from tests.factories import close, unassign_plan
from tests.store_queries import commands_in

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
    assert commands_in(store, OutboxState.FAILED) == [stored]


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


def test_start_up_takes_back_only_expired_leases(store: Store, db_url: str) -> None:
    _enqueue(store, 3)
    other = Store.open(db_url)  # another holder on the same file
    try:
        now = time.time()
        assert len(other.outbox.claim_due(now, limit=2).commands) == 2
        assert store.outbox.recover_expired(now + 1) == 0  # the other holder's leases still run
        assert [c.contact_id for c in store.outbox.claim_due(now + 1).commands] == [3]
        assert store.outbox.recover_expired(now + store.outbox.lease_seconds + 2) == 3  # every lease ran out
        assert len(commands_in(store, OutboxState.PENDING)) == 3
        assert store.outbox.recover_expired(now + store.outbox.lease_seconds + 2) == 0
    finally:
        other.close()


def test_a_renewed_lease_is_not_taken_back_and_a_lost_one_is_not_settled(store: Store, db_url: str) -> None:
    _enqueue(store, 2)
    other = Store.open(db_url)
    try:
        now = time.time()
        first, second = other.outbox.claim_due(now, limit=2).commands
        assert first.id is not None
        assert other.outbox.renew([first.id], now + 20) == 1
        late = now + other.outbox.lease_seconds + 1
        assert store.outbox.recover_expired(late) == 1  # only the lease that was not renewed
        (taken,) = store.outbox.claim_due(late).commands
        assert taken.id == second.id
        # The first holder wakes up late: its settle is refused, and the command stays with its new holder.
        other.outbox.settle(second, OutboxState.DONE, change_state=SyncState.SYNCED)
        assert store.outbox.get(second.id or 0).state is OutboxState.IN_FLIGHT  # type: ignore[union-attr]
        assert not other.outbox.retry_at(second, late, "503")
        assert other.outbox.renew([second.id or 0]) == 0
    finally:
        other.close()


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


def test_start_up_leaves_a_live_process_its_commands(store: Store, db_url: str) -> None:
    _enqueue(store, 6)
    command = [sys.executable, "-c", CLAIMER, db_url]
    with subprocess.Popen(command, cwd=ROOT, stdout=subprocess.PIPE, text=True) as child:
        assert child.stdout is not None
        claimed = [int(i) for i in child.stdout.readline().strip().split(",")]
        try:
            reopened = Store.open(db_url)
            try:
                asyncio.run(_prepare(reopened))  # what every start does
                again = reopened.outbox.claim_due(time.time(), limit=10).commands
            finally:
                reopened.close()
        finally:
            os.kill(child.pid, signal.SIGKILL)
    assert claimed == [1, 2, 3, 4]
    assert [c.id for c in again] == [5, 6]


async def _prepare(store: Store) -> None:
    client = PlatformClient("http://127.0.0.1:9", Secret("unused"))
    try:
        await SyncService(store, client, EventBus(), SyncOptions()).prepare()
    finally:
        await client.aclose()


def test_commands_claimed_by_a_killed_process_are_recovered_with_their_attempt_counted(
    store: Store, db_url: str
) -> None:
    _enqueue(store, 6)
    command = [sys.executable, "-c", CLAIMER, db_url]
    with subprocess.Popen(command, cwd=ROOT, stdout=subprocess.PIPE, text=True) as child:
        assert child.stdout is not None
        claimed = [int(i) for i in child.stdout.readline().strip().split(",")]
        os.kill(child.pid, signal.SIGKILL)
    assert claimed == [1, 2, 3, 4]

    reopened = Store.open(db_url)
    try:
        # The holder is gone (a process on this computer that no longer exists): no need to wait for the lease.
        again = reopened.outbox.claim_due(time.time(), limit=10).commands
        assert [c.id for c in again] == [1, 2, 3, 4, 5, 6]
        assert [c.attempts for c in again] == [2, 2, 2, 2, 1, 1]
    finally:
        reopened.close()


CLAIM_LOOP = textwrap.dedent(
    """
    import sys, time
    from app.domain.outbox import OutboxState
    from app.storage.store import Store
    store = Store.open(sys.argv[1])
    print("ready", flush=True)
    sys.stdin.readline()  # start together
    taken = []
    while True:
        claim = store.outbox.claim_due(time.time(), limit=int(sys.argv[2]))
        if not claim.commands:
            break
        for command in claim.commands:
            store.outbox.settle(command, OutboxState.DONE)
            taken.append(command.id)
    print(",".join(str(i) for i in taken), flush=True)
    """
)


@pytest.mark.slow
def test_two_processes_claiming_from_one_file_never_take_the_same_command(store: Store, db_url: str) -> None:
    total = 2000
    store.plans.commit_many([unassign_plan(close(i)) for i in range(1, total + 1)])
    children = [
        subprocess.Popen(
            [sys.executable, "-c", CLAIM_LOOP, db_url, str(limit)],
            cwd=ROOT,
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            text=True,
        )
        for limit in (3, 5)
    ]
    for child in children:  # both have opened the database before either claims
        assert child.stdout is not None and child.stdout.readline() == "ready\n"
    for child in children:
        assert child.stdin is not None
        child.stdin.write("go\n")
        child.stdin.flush()
    taken: list[int] = []
    for child in children:
        out, _ = child.communicate(timeout=120)
        assert child.returncode == 0
        taken += [int(i) for i in out.strip().split(",") if i]
    assert len(taken) == total
    assert len(set(taken)) == total
