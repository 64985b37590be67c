"""State changes that must never double, overwrite or vanish, whatever order intake, poll, drain and undo run in."""

from __future__ import annotations

import asyncio
import os
import time
from collections.abc import Awaitable, Callable
from dataclasses import replace

import httpx
import pytest
from sqlalchemy import Engine, create_engine, text

from app.commands import _once_left
from app.domain.availability import Availability, Presence
from app.domain.conversations import ClosedBySource
from app.domain.errors import DiskFull, UnstorableEvent
from app.domain.history import AssignmentChange, HistoryFilter, SyncState
from app.domain.people import Agent, ContactStatus, UserRef
from app.domain.plan import Plan, PlannedRun
from app.domain.secret import Secret
from app.domain.workflows import (
    AssignAction,
    AssignToStep,
    Condition,
    ConditionField,
    ConditionOperator,
    RunOutcome,
    Workflow,
    WorkflowRun,
)
from app.engine.catalog import use_template
from app.engine.lifecycle import overlaps, publish
from app.engine.undo import plan_undo
from app.platform.client import PlatformClient
from app.platform.fake.platform import IN_PROCESS_URL
from app.platform.fake.state import FakeContact
from app.platform.webhooks import parse_event
from app.storage.leases import RUNNER
from app.storage.outbox import Claim
from app.storage.store import Store
from app.sync.connectivity import Connectivity
from app.sync.service import OnceReport
from tests.factories import close
from tests.helpers import wait_until
from tests.sync.conftest import Rig


def _history(rig: Rig) -> list[AssignmentChange]:
    return list(rig.store.history.page(HistoryFilter()).rows)


class _AfterFirstListing(httpx.AsyncBaseTransport):
    """The fake's transport, running `hook` once, after the first contact listing was answered."""

    def __init__(self, inner: httpx.AsyncBaseTransport, hook: Callable[[], Awaitable[None]]) -> None:
        self._inner = inner
        self._hook: Callable[[], Awaitable[None]] | None = hook

    async def handle_async_request(self, request: httpx.Request) -> httpx.Response:
        response = await self._inner.handle_async_request(request)
        if self._hook is not None and request.url.path.endswith("/contact/list"):
            hook, self._hook = self._hook, None
            await response.aread()
            await hook()
        return response


async def _client_with(rig: Rig, hook: Callable[[], Awaitable[None]]) -> None:
    transport = _AfterFirstListing(rig.fake.transport(), hook)
    await rig.service.set_client(
        PlatformClient(IN_PROCESS_URL, Secret(rig.fake.token), rate_limit=0, transport=transport)
    )


async def test_a_close_committed_during_a_poll_listing_stays_closed_and_is_recorded_once(rig: Rig) -> None:
    await rig.publish_unassign()
    await rig.service.start(poll=False, drain=False)
    contact = rig.assigned_contacts()[0]
    await _client_with(rig, lambda: rig.close_and_record(contact))

    await rig.service.poller.poll_once()  # its listing still shows the contact open and assigned

    cached = rig.store.cache.contact(contact.id)
    assert cached is not None and (cached.status, cached.assignee) == (ContactStatus.CLOSED, None)
    rig.feed_events()  # the platform's echo of our own unassign comes back as contact.assignee.updated
    await rig.service.drain.run_until_idle()
    await wait_until(lambda: rig.service.intake.backlog == 0)
    await rig.service.poller.poll_once()
    assert contact.assignee_id is None
    mine = [(c.sync_state, c.to_agent_id) for c in _history(rig) if c.contact_id == contact.id]
    assert mine == [(SyncState.SYNCED, None)]


async def test_a_close_the_poll_detects_while_its_webhook_is_committed_is_one_close(rig: Rig) -> None:
    await rig.publish_unassign()
    await rig.service.start(poll=False, drain=False)
    await rig.service.poller.poll_once()  # the closes the seed workspace already holds
    before = rig.store.closes.count()
    contact = rig.assigned_contacts()[0]
    bodies: list[bytes] = []
    rig.fake.add_listener(bodies.append)
    rig.close(contact)  # the webhook is on its way; the poll lists the contact closed and still assigned
    rig.fake.remove_listener(bodies.append)
    webhook = parse_event(next(b for b in bodies if b"conversation.closed" in b))
    webhook = replace(webhook, closed_time=webhook.closed_time - 30)  # a close a while before the poll
    read_cache = rig.store.cache.contacts

    def cache_read_then_webhook(ids: object) -> object:
        seen = read_cache(ids)  # type: ignore[arg-type]
        rig.service.intake._plan_and_commit([webhook])  # the webhook lands now
        return seen

    rig.store.cache.contacts = cache_read_then_webhook  # type: ignore[method-assign]
    try:
        await rig.service.poller.poll_once()
    finally:
        rig.store.cache.contacts = read_cache  # type: ignore[method-assign]

    assert rig.store.closes.count() == before + 1
    assert len([c for c in _history(rig) if c.contact_id == contact.id]) == 1


async def test_a_webhook_arriving_after_the_poll_detected_its_close_fills_in_that_close(rig: Rig) -> None:
    await rig.publish_unassign()
    await rig.service.start(poll=False, drain=False)
    await rig.service.poller.poll_once()  # the closes the seed workspace already holds
    contact = rig.assigned_contacts()[0]
    bodies: list[bytes] = []
    rig.fake.add_listener(bodies.append)
    rig.close(contact, category="Billing")
    rig.fake.remove_listener(bodies.append)
    assert (await rig.service.poller.poll_once()).detected == 1

    await rig.service.intake.submit(parse_event(next(b for b in bodies if b"conversation.closed" in b)))

    (recorded,) = [c for c in rig.store.closes.newest() if c.contact.id == contact.id]
    assert (recorded.closed_by_source, recorded.category) == (ClosedBySource.USER, "Billing")
    assert len([r for r in rig.store.runs.page() if r.contact_id == contact.id]) == 1
    assert len([c for c in _history(rig) if c.contact_id == contact.id]) == 1


async def test_an_undo_before_the_unassign_was_sent_is_not_overwritten_by_the_drain(rig: Rig) -> None:
    await rig.publish_unassign()
    await rig.service.start(poll=False, drain=False)
    contact = rig.assigned_contacts()[0]
    agent = rig.fake.state.users[contact.assignee_id]
    await rig.close_and_record(contact)
    (run,) = rig.store.runs.page()
    assert run.id is not None
    refs = {agent.id: UserRef(agent.id, agent.first_name, agent.last_name, agent.email)}
    await rig.service.intake.commit_plan(plan_undo(run, rig.store.history.for_run(run.id), refs, time.time()))

    await rig.service.drain.run_until_idle()

    original = next(c for c in _history(rig) if c.run_id == run.id)
    assert original.sync_state is SyncState.UNDONE
    assert contact.assignee_id == agent.id  # the unassign never went out, so nothing had to be put back
    assert rig.assignee_posts(contact.id) == []


async def test_two_published_unassign_workflows_unassign_once_and_record_once(rig: Rig) -> None:
    first = await rig.publish_unassign()
    second_draft = replace(publish(use_template("unassign-after-close")), name="Unassign (my copy)")
    assert overlaps(second_draft, [first]) == (
        f'"{first.name}" is published on the same trigger: an event that meets both runs both, and the later one '
        "works on what the earlier one left (it may find nothing left to do).",
    )
    await rig.store.db.write(rig.store.workflows.save, second_draft)
    await rig.service.intake.load_workflows()
    rig.feed_events()
    await rig.service.start(poll=False)
    contact = rig.assigned_contacts()[0]

    rig.close(contact)

    await wait_until(lambda: [c.sync_state for c in _history(rig)] == [SyncState.SYNCED])
    earlier, later = sorted(rig.store.runs.page(), key=lambda r: r.workflow_id)
    assert earlier.outcome is RunOutcome.DONE
    assert (later.outcome, later.reason) == (
        RunOutcome.SKIPPED,
        f'skipped: already unassigned by "{first.name}" (run {earlier.id})',
    )
    assert len(rig.assignee_posts(contact.id)) == 1


@pytest.mark.log_errors_expected
async def test_a_storage_error_in_the_drain_is_reported_and_the_drain_comes_back(rig: Rig) -> None:
    await rig.publish_unassign()
    rig.feed_events()
    claim_due = rig.store.outbox.claim_due
    failures = [DiskFull("The disk holding the database is full.")]

    def failing_claim(now: float, limit: int = 20) -> Claim:
        if failures:
            raise failures.pop()
        return claim_due(now, limit)

    rig.store.outbox.claim_due = failing_claim  # type: ignore[method-assign]
    await rig.service.start(poll=False)
    await wait_until(lambda: rig.service.problem is not None)
    assert (await rig.service.status()).problem == (
        "The drain stopped: The disk holding the database is full. Retrying in 1 s."
    )
    contact = rig.assigned_contacts()[0]
    rig.close(contact)
    await wait_until(lambda: contact.assignee_id is None, timeout=10)
    assert isinstance(rig.service.failure, DiskFull)
    assert (await rig.service.status()).problem is None


async def test_a_result_that_cannot_be_recorded_does_not_block_the_contact(rig: Rig) -> None:
    await rig.publish_unassign()
    settle = rig.store.outbox.settle
    failures = [DiskFull("The disk holding the database is full.")]

    def failing_settle(*args: object, **kwargs: object) -> int:
        if failures:
            raise failures.pop()
        return settle(*args, **kwargs)  # type: ignore[arg-type]

    rig.store.outbox.settle = failing_settle  # type: ignore[method-assign]
    rig.feed_events()
    await rig.service.start(poll=False)
    contact = rig.assigned_contacts()[0]
    rig.close(contact)
    await wait_until(lambda: not failures and rig.store.outbox.depth() == 0, timeout=10)
    assert [c.sync_state for c in _history(rig)] == [SyncState.SYNCED]


async def test_one_unstorable_event_is_refused_alone_and_the_rest_of_its_batch_commits(rig: Rig) -> None:
    await rig.publish_unassign()
    await rig.service.start(poll=False, drain=False)
    huge_id = replace(close(1), contact=replace(close(1).contact, id=2**63))
    far_future = replace(close(2), closed_time=10**30)
    broken_name = replace(close(3), contact=replace(close(3).contact, first_name="Zo\u00eb \ud83d"))
    good = [close(4), close(5)]
    futures = [rig.service.intake.submit_nowait(e) for e in (good[0], huge_id, far_future, broken_name, good[1])]

    outcomes = await asyncio.gather(*futures, return_exceptions=True)

    refused = [o for o in outcomes if isinstance(o, Exception)]
    assert len(refused) == 3 and all(isinstance(o, UnstorableEvent) and o.status == 422 for o in refused)
    assert str(refused[0]).startswith("The event cannot be stored: id 9223372036854775808 is out of range")
    assert sorted(c.contact.id for c in rig.store.closes.newest()) == [4, 5]


class _BreakingNames(httpx.AsyncBaseTransport):
    """The fake's transport, with every listed first name "Broken" sent as JSON text holding a lone surrogate."""

    def __init__(self, inner: httpx.AsyncBaseTransport) -> None:
        self._inner = inner

    async def handle_async_request(self, request: httpx.Request) -> httpx.Response:
        response = await self._inner.handle_async_request(request)
        body = (await response.aread()).replace(b'"Broken"', b'"Zo\\u00eb \\ud83d"')
        headers = [(k, v) for k, v in response.headers.items() if k.lower() != "content-length"]
        return httpx.Response(response.status_code, headers=headers, content=body)


async def test_a_listed_contact_with_broken_text_does_not_stop_the_poll(rig: Rig) -> None:
    transport = _BreakingNames(rig.fake.transport())
    await rig.service.set_client(
        PlatformClient(IN_PROCESS_URL, Secret(rig.fake.token), rate_limit=0, transport=transport)
    )
    await rig.service.start(poll=False, drain=False)
    contact = rig.assigned_contacts()[0]
    contact.first_name = "Broken"
    assigned = sum(1 for c in rig.fake.state.contacts.values() if c.assignee_id is not None)
    result = await rig.service.poller.poll_once()
    assert result.contacts == assigned  # the poll lists assigned contacts only, the broken one among them
    cached = rig.store.cache.contact(contact.id)
    assert cached is not None and cached.first_name == "Zo\u00eb \ufffd"


async def test_the_oldest_waiting_runs_are_resumed_too(rig: Rig) -> None:
    await rig.service.start(poll=False, drain=False)
    await rig.service.poller.poll_once()
    agent: Agent = rig.store.cache.agents()[0]
    await rig.store.db.write(rig.store.availability.set, Availability(agent.id, Presence.AVAILABLE))
    step = AssignToStep(AssignAction.SPECIFIC_USER, user_id=agent.id)
    draft = publish(replace(use_template("round-robin-online"), steps=(step,)))
    workflow = await rig.store.db.write(rig.store.workflows.save, draft)
    assert workflow.id is not None
    # The poll caches the assigned contacts; a waiting run is resumed against the cached contact.
    contact_ids = sorted(c.id for c in rig.fake.state.contacts.values() if c.assignee_id is not None)[:30]
    now = time.time()
    waiting = [
        Plan(
            runs=(
                PlannedRun(
                    WorkflowRun(
                        f"w:{n}", workflow.id, workflow.version, contact_ids[n % 30], now, RunOutcome.WAITING, "waiting"
                    )
                ),
            )
        )
        for n in range(620)
    ]
    await rig.store.db.write(rig.store.plans.commit_many, waiting)

    await rig.service.intake.resume_waiting()

    assert rig.store.runs.page(outcome=RunOutcome.WAITING, limit=1000) == []


async def test_sync_once_waits_a_bounded_time_for_a_retry_and_says_what_is_left(rig: Rig) -> None:
    await rig.publish_unassign()
    await rig.service.start(poll=False, drain=False)  # intake only, to record the closes
    first, second = rig.assigned_contacts()[:2]
    await rig.close_and_record(first)
    # The poll (users, one page of contacts) and the check pass; the unassign gets a 500, retried in about 1 s.
    rig.fake.faults.script(["ok", "ok", "ok", "500"])

    waited = await rig.service.run_once(wait_seconds=10)
    assert (waited.left, first.assignee_id, rig.fake.faults.injected["500"]) == (0, None, 1)

    await rig.close_and_record(second)
    # Users are not listed again this soon: one page of contacts, the check, and the unassign's 500.
    rig.fake.faults.script(["ok", "ok", "500"])
    left = await rig.service.run_once(wait_seconds=0)
    assert rig.fake.faults.injected["500"] == 2
    assert left.left == 1 and left.next_due_at is not None and left.next_due_at > time.time()
    assert left.other_runner is None
    assert second.assignee_id is not None


async def test_sync_once_sends_nothing_while_another_process_is_the_runner(rig: Rig, db_url: str) -> None:
    other = Store.open(db_url)
    try:
        other.leases.acquire(RUNNER, 30)
        await rig.publish_unassign()
        await rig.service.start(poll=False, drain=False)
        contact = rig.assigned_contacts()[0]
        await rig.close_and_record(contact)
        report = await rig.service.run_once()
    finally:
        other.close()
    assert report.other_runner == f"Another Closeout on this computer is sending: pid {os.getpid()}"
    assert report.left == 1 and contact.assignee_id is not None


async def test_until_idle_ends_when_the_token_is_rejected(rig: Rig) -> None:
    await rig.publish_unassign()
    rig.feed_events()
    await rig.service.start(poll=False)
    await rig.service.set_client(
        PlatformClient(IN_PROCESS_URL, Secret("wrong"), rate_limit=0, transport=rig.fake.transport())
    )
    rig.close(rig.assigned_contacts()[0])
    assert await asyncio.wait_for(rig.service.wait_stuck(0.1), 5) is Connectivity.AUTH_FAILED


def test_the_once_line_says_how_many_commands_wait_and_until_when() -> None:
    at = time.mktime(time.strptime("2026-12-01 14:03", "%Y-%m-%d %H:%M"))
    assert _once_left(OnceReport(1, at)) == "1 command waits for a retry at 14:03"
    assert _once_left(OnceReport(3, at)) == "3 commands wait for a retry at 14:03"
    assert _once_left(OnceReport(0, None)) == ""


async def test_an_event_from_the_demo_or_the_poll_is_retried_after_a_database_problem(rig: Rig) -> None:
    await rig.publish_unassign()
    await rig.service.start(poll=False, drain=False)
    commit_many = rig.store.plans.commit_many
    failures = [DiskFull("The disk holding the database is full.")]

    def failing_commit(plans: object) -> object:
        if failures:
            raise failures.pop()
        return commit_many(plans)  # type: ignore[arg-type]

    rig.store.plans.commit_many = failing_commit  # type: ignore[method-assign]
    done = rig.service.intake.submit_nowait(close(9))  # nobody waits on it: it must not be dropped
    await asyncio.wait_for(done, 5)
    assert [c.contact.id for c in rig.store.closes.newest()] == [9]


class _SlowPosts(httpx.AsyncBaseTransport):
    """The fake's transport, answering every POST only after `delay` seconds (a slow platform)."""

    def __init__(self, inner: httpx.AsyncBaseTransport, delay: float) -> None:
        self._inner = inner
        self._delay = delay

    async def handle_async_request(self, request: httpx.Request) -> httpx.Response:
        if request.method == "POST" and request.url.path.endswith("/conversation/assignee"):
            await asyncio.sleep(self._delay)
        return await self._inner.handle_async_request(request)


async def test_a_command_waiting_on_a_slow_platform_keeps_its_lease(rig: Rig, db_url: str) -> None:
    await rig.publish_unassign()
    transport = _SlowPosts(rig.fake.transport(), delay=1.5)
    await rig.service.set_client(
        PlatformClient(IN_PROCESS_URL, Secret(rig.fake.token), rate_limit=0, transport=transport)
    )
    await rig.service.start(poll=False, drain=False)
    rig.store.outbox.lease_seconds = 0.5  # renewed every sixth of a second while the POST hangs
    contact = rig.assigned_contacts()[0]
    await rig.close_and_record(contact)
    other = Store.open(db_url)
    outside = create_engine(db_url)
    try:
        sending = asyncio.ensure_future(rig.service.drain.run_until_idle())
        await wait_until(lambda: _lease_until(outside) is not None)
        first = _lease_until(outside)
        assert first is not None
        # Past its first lease, and renewed since: only renewal keeps the command from another claimer.
        await wait_until(lambda: time.time() > first + 0.2 and (_lease_until(outside) or 0) > first)
        assert (await asyncio.to_thread(other.outbox.claim_due, time.time())).commands == []
        await sending
    finally:
        outside.dispose()
        other.close()
    assert len(rig.assignee_posts(contact.id)) == 1 and rig.store.outbox.depth() == 0


def _lease_until(outside: Engine) -> float | None:
    """The lease expiry of the command in flight, read on a connection of its own, as any other tool would."""
    with outside.connect() as connection:
        row = connection.execute(text("SELECT lease_until FROM outbox WHERE state = 'in_flight'")).first()
    return None if row is None else float(row[0])


async def _unassign_when(rig: Rig, condition: Condition) -> Workflow:
    workflow = publish(use_template("unassign-after-close"))
    workflow = replace(workflow, trigger=replace(workflow.trigger, conditions=(condition,)))
    saved = await rig.store.db.write(rig.store.workflows.save, workflow)
    await rig.service.intake.load_workflows()
    return saved


async def _poll_then_webhook(rig: Rig, category: str) -> tuple[FakeContact, bytes]:
    await rig.service.start(poll=False, drain=False)
    await rig.service.poller.poll_once()  # the closes the seed workspace already holds
    await rig.service.drain.run_until_idle()
    contact = rig.assigned_contacts()[0]
    bodies: list[bytes] = []
    rig.fake.add_listener(bodies.append)
    rig.close(contact, category=category)
    rig.fake.remove_listener(bodies.append)
    assert (await rig.service.poller.poll_once()).detected == 1
    return contact, next(b for b in bodies if b"conversation.closed" in b)


async def test_a_late_webhook_whose_facts_meet_a_condition_runs_the_workflow_on_the_detected_close(rig: Rig) -> None:
    await _unassign_when(rig, Condition(ConditionField.CATEGORY, ConditionOperator.IS, ("Spam",)))
    contact, webhook = await _poll_then_webhook(rig, "Spam")
    (skipped,) = [r for r in rig.store.runs.page() if r.contact_id == contact.id]
    assert skipped.outcome is RunOutcome.SKIPPED  # the poll knows no category

    await rig.service.intake.submit(parse_event(webhook))
    await rig.service.drain.run_until_idle()

    assert contact.assignee_id is None
    (recorded,) = [c for c in rig.store.closes.newest() if c.contact.id == contact.id]
    latest = rig.store.runs.page()[0]
    assert (latest.contact_id, latest.conversation_id, latest.outcome) == (contact.id, recorded.id, RunOutcome.DONE)
    assert [c.sync_state for c in _history(rig) if c.contact_id == contact.id] == [SyncState.SYNCED]


async def test_a_late_webhook_whose_facts_fail_a_condition_stops_the_unsent_unassign(rig: Rig) -> None:
    await _unassign_when(rig, Condition(ConditionField.CATEGORY, ConditionOperator.IS_NOT, ("Spam",)))
    contact, webhook = await _poll_then_webhook(rig, "Spam")
    agent_id = contact.assignee_id

    await rig.service.intake.submit(parse_event(webhook))
    await rig.service.drain.run_until_idle()

    assert contact.assignee_id == agent_id and rig.assignee_posts(contact.id) == []
    (run,) = [r for r in rig.store.runs.page() if r.contact_id == contact.id]
    assert (run.outcome, run.reason) == (
        RunOutcome.SKIPPED,
        'skipped: condition "category is not Spam" not met (the webhook came after the poll)',
    )
    assert [c.sync_state for c in _history(rig) if c.contact_id == contact.id] == [SyncState.SKIPPED]
    cached = rig.store.cache.contact(contact.id)
    assert cached is not None and cached.assignee is not None and cached.assignee.id == agent_id


class _AfterContactRead(httpx.AsyncBaseTransport):
    """The fake's transport, running `hook` once, after the drain's read of a contact was answered."""

    def __init__(self, inner: httpx.AsyncBaseTransport, hook: Callable[[], None]) -> None:
        self._inner = inner
        self._hook: Callable[[], None] | None = hook

    async def handle_async_request(self, request: httpx.Request) -> httpx.Response:
        response = await self._inner.handle_async_request(request)
        if self._hook is not None and request.method == "GET" and "/contact/id:" in request.url.path:
            hook, self._hook = self._hook, None
            hook()
        return response


async def test_a_command_taken_over_by_another_process_while_checked_is_not_sent_from_here(rig: Rig) -> None:
    await rig.publish_unassign()
    await rig.service.start(poll=False, drain=False)
    contact = rig.assigned_contacts()[0]
    await rig.close_and_record(contact)

    def another_process_takes_it() -> None:
        # What a second runner does once this one's loop stalled past the lease: the claim is now its own.
        with rig.store.db.engine.begin() as connection:
            connection.execute(
                text("UPDATE outbox SET lease_owner = 'other:1', lease_until = :until WHERE state = 'in_flight'"),
                {"until": time.time() + 60},
            )

    transport = _AfterContactRead(rig.fake.transport(), another_process_takes_it)
    await rig.service.set_client(
        PlatformClient(IN_PROCESS_URL, Secret(rig.fake.token), rate_limit=0, transport=transport)
    )
    await rig.service.drain.run_until_idle()

    assert rig.assignee_posts(contact.id) == []
    assert contact.assignee_id is not None  # left to the process that holds the command now
    with rig.store.db.engine.connect() as connection:
        (row,) = connection.exec_driver_sql("SELECT state, lease_owner FROM outbox").all()
    assert tuple(row) == ("in_flight", "other:1")
