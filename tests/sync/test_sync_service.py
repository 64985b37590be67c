"""The sync service in process: close → plan → commit → drain → platform, and what happens when things differ."""

from __future__ import annotations

import asyncio
from dataclasses import replace

import httpx

from app.domain.availability import Availability, Presence
from app.domain.conversations import ClosedBySource, ConversationOpened, OpenedBySource
from app.domain.history import AssignmentChange, HistoryFilter, SyncState
from app.domain.outbox import OutboxState
from app.domain.people import Contact, ContactStatus
from app.domain.secret import Secret
from app.domain.workflows import RunOutcome, WorkflowSettings
from app.engine.catalog import use_template
from app.engine.lifecycle import publish, stop
from app.events import ChangeSet
from app.platform.client import PlatformClient
from app.platform.fake.platform import IN_PROCESS_URL
from app.platform.webhooks import parse_event
from app.storage.store import Store
from tests.helpers import wait_until
from tests.store_queries import commands_in
from tests.sync.conftest import Rig


def _history(rig: Rig) -> list[AssignmentChange]:
    return list(rig.store.history.page(HistoryFilter()).rows)


async def test_a_close_on_the_platform_gets_the_contact_unassigned(rig: Rig) -> None:
    await rig.publish_unassign()
    rig.feed_events()
    await rig.service.start(poll=False)
    contact = rig.assigned_contacts()[0]
    agent = rig.fake.state.users[contact.assignee_id]

    rig.close(contact)

    await wait_until(lambda: [c.sync_state for c in _history(rig)] == [SyncState.SYNCED])
    assert contact.assignee_id is None
    (close,) = rig.store.closes.newest()
    assert close.closed_by_source is ClosedBySource.USER and close.category == "Resolved"
    assert close.assignee_at_close is not None and close.assignee_at_close.id == agent.id
    (change,) = _history(rig)
    assert (change.from_agent_id, change.to_agent_id, change.conversation_id) == (agent.id, None, close.id)
    (run,) = rig.store.runs.page()
    assert (run.outcome, run.reason) == (RunOutcome.DONE, f"unassigned {agent.first_name} {agent.last_name}")
    assert len(rig.assignee_posts(contact.id)) == 1
    cached = rig.store.cache.contact(contact.id)
    assert cached is not None and cached.assignee is None and cached.status is ContactStatus.CLOSED
    assert any(e.closes == (close.id,) for e in rig.events)
    # The drain announces the settled command after its write returns, which the database can show first.
    await wait_until(lambda: any(e.changes == (change.id,) and e.commands for e in rig.events if not e.closes))


async def test_a_replayed_event_changes_nothing(rig: Rig) -> None:
    await rig.publish_unassign()
    bodies: list[bytes] = []
    rig.fake.add_listener(bodies.append)
    await rig.service.start(poll=False)
    rig.close(rig.assigned_contacts()[0])

    (closed_body,) = [b for b in bodies if b"conversation.closed" in b]
    for _ in range(3):
        await rig.service.intake.submit(parse_event(closed_body))
    await wait_until(lambda: rig.store.outbox.depth() == 0)
    assert rig.store.closes.count() == 1 and len(rig.store.runs.page()) == 1
    assert len(rig.assignee_posts()) == 1


async def test_a_contact_reassigned_after_the_close_is_left_alone(rig: Rig) -> None:
    await rig.publish_unassign()
    await rig.service.start(poll=False, drain=False)
    contact = rig.assigned_contacts()[0]
    await rig.close_and_record(contact)
    other = next(u for u in rig.fake.state.users.values() if u.id != contact.assignee_id)
    rig.fake.state.assign(contact, other)

    await rig.service.drain.run_until_idle()

    (run,) = rig.store.runs.page()
    assert run.outcome is RunOutcome.SKIPPED
    assert run.reason == f"skipped: contact was reassigned to {other.first_name} {other.last_name} after the close"
    assert [c.sync_state for c in _history(rig)] == [SyncState.SKIPPED]
    assert contact.assignee_id == other.id
    assert rig.assignee_posts() == []
    cached = rig.store.cache.contact(contact.id)
    assert cached is not None and cached.assignee is not None and cached.assignee.id == other.id


async def test_without_verification_the_unassign_is_sent_blind(rig: Rig) -> None:
    await rig.publish_unassign(WorkflowSettings(verify_before_unassign=False))
    rig.feed_events()
    await rig.service.start(poll=False)
    contact = rig.assigned_contacts()[0]
    rig.close(contact)
    await wait_until(lambda: contact.assignee_id is None)
    entries, _ = rig.fake.log.since(0, 10_000)
    # The contact is not read before the unassign (its channels are, for the queue's Channel column).
    looked_at = [e.path for _, e in entries if e.method == "GET" and f"id:{contact.id}" in e.path]
    assert all(path.endswith("/channels") for path in looked_at), looked_at


async def test_an_already_unassigned_contact_is_done_without_a_post(rig: Rig) -> None:
    await rig.publish_unassign()
    await rig.service.start(poll=False, drain=False)
    contact = rig.assigned_contacts()[0]
    await rig.close_and_record(contact)
    rig.fake.state.assign(contact, None)
    posts_before = len(rig.assignee_posts())

    await rig.service.drain.run_until_idle()

    assert len(rig.assignee_posts()) == posts_before
    assert [c.sync_state for c in _history(rig)] == [SyncState.SYNCED]
    assert rig.store.runs.page()[0].outcome is RunOutcome.DONE


async def test_a_contact_missing_on_the_platform_fails_with_the_reason(rig: Rig) -> None:
    await rig.publish_unassign()
    await rig.service.start(poll=False, drain=False)
    contact = rig.assigned_contacts()[0]
    await rig.close_and_record(contact)
    del rig.fake.state.contacts[contact.id]

    await rig.service.drain.run_until_idle()

    (run,) = rig.store.runs.page()
    assert (run.outcome, run.reason) == (RunOutcome.FAILED, "failed: contact not found on the platform")
    (command,) = commands_in(rig.store, OutboxState.FAILED)
    assert command.last_error == "The platform answered 404: Contact not found."
    assert [c.sync_state for c in _history(rig)] == [SyncState.FAILED]


async def test_the_poller_fills_the_cache_and_catches_closes_no_webhook_reported(rig: Rig) -> None:
    await rig.publish_unassign()
    await rig.service.start(poll=False, drain=False)
    first = await rig.service.poller.poll_once()
    already_closed = sum(
        1 for c in rig.fake.state.contacts.values() if c.status != "open" and c.assignee_id is not None
    )
    assigned = sum(1 for c in rig.fake.state.contacts.values() if c.assignee_id is not None)
    assert first.contacts == assigned and first.agents == len(rig.fake.state.users)
    assert first.detected == already_closed
    assert len(rig.store.cache.agents()) == len(rig.fake.state.users)

    contact = rig.assigned_contacts()[0]
    rig.close(contact)  # nobody listens: as if Closeout was offline
    second = await rig.service.poller.poll_once()
    assert second.detected == 1 and second.agents == 0  # users are listed on their own, slower schedule
    third = await rig.service.poller.poll_once()
    assert third.detected == 0

    await rig.service.drain.run_until_idle()
    assert contact.assignee_id is None
    detected = [c for c in rig.store.closes.newest(1000) if c.contact.id == contact.id]
    assert [c.closed_by_source for c in detected] == [ClosedBySource.DETECTED_BY_POLL]
    # Found by the second poll: closed some time after the first, not at the second the poll ran.
    assert detected[0].detected_at is not None and detected[0].closed_time <= detected[0].detected_at


async def test_change_sets_report_connectivity_and_outbox_depth(rig: Rig) -> None:
    await rig.publish_unassign()
    rig.feed_events()
    await rig.service.start(poll=False)
    rig.close(rig.assigned_contacts()[0])
    await wait_until(lambda: any(e.outbox_depth == 0 for e in rig.events))
    assert ChangeSet(connectivity="online") in rig.events
    status = await rig.service.status()
    assert status.outbox_depth == 0 and status.connectivity.value == "online"


async def test_a_run_waiting_for_an_available_agent_assigns_when_the_lead_marks_one_available(rig: Rig) -> None:
    workflow = publish(use_template("round-robin-online", values={"team": "0"}))
    await rig.service.start(poll=False, drain=False)
    await rig.service.poller.poll_once()
    team = next(u.team for u in rig.fake.state.users.values() if u.team is not None)
    members = [u for u in rig.fake.state.users.values() if u.team is not None and u.team.id == team.id]
    step = replace(workflow.steps[0], team_id=team.id)
    await rig.store.db.write(rig.store.workflows.save, replace(workflow, steps=(step,)))
    await rig.service.intake.load_workflows()
    contact = next(c for c in rig.fake.state.contacts.values() if c.assignee_id is None)

    opened = ConversationOpened(
        "open-1", Contact(contact.id, contact.first_name), 1_700_000_000, OpenedBySource.CONTACT
    )
    await rig.service.intake.submit(opened)
    (run,) = rig.store.runs.page()
    assert run.outcome is RunOutcome.WAITING
    assert run.reason == f"waiting: nobody in {team.name} is available (availability is set on the Team page)"

    assert (await rig.service.intake.resume_waiting()).runs == ()
    await rig.store.db.write(rig.store.availability.set, Availability(members[0].id, Presence.AVAILABLE))
    result = await rig.service.intake.resume_waiting()

    assert result.runs == (run.id,)
    resumed = rig.store.runs.get(run.id or 0)
    assert resumed.outcome is RunOutcome.DONE
    assert resumed.reason.startswith(f"assigned {members[0].first_name} {members[0].last_name} (after waiting")
    await rig.service.drain.run_until_idle()
    assert contact.assignee_id == members[0].id


class _HoldContact(httpx.AsyncBaseTransport):
    """Passes requests to the fake, except those about one contact, which wait until released."""

    def __init__(self, inner: httpx.AsyncBaseTransport, contact_id: int) -> None:
        self._inner = inner
        self._marker = f"id:{contact_id}/"
        self.holding = asyncio.Event()
        self.release = asyncio.Event()

    async def handle_async_request(self, request: httpx.Request) -> httpx.Response:
        if self._marker in request.url.path:
            self.holding.set()
            await self.release.wait()
        return await self._inner.handle_async_request(request)


async def test_a_close_is_sent_while_another_contacts_command_is_still_out(rig: Rig) -> None:
    await rig.publish_unassign()
    rig.feed_events()
    slow, quick = rig.assigned_contacts()[:2]
    hold = _HoldContact(rig.fake.transport(), slow.id)
    await rig.service.set_client(PlatformClient(IN_PROCESS_URL, Secret(rig.fake.token), rate_limit=0, transport=hold))
    await rig.service.start(poll=False)

    rig.close(slow)
    await asyncio.wait_for(hold.holding.wait(), 10)  # the slow contact's command is out, its answer held
    rig.close(quick)

    await wait_until(lambda: quick.assignee_id is None)
    assert slow.assignee_id is not None
    hold.release.set()
    await wait_until(lambda: slow.assignee_id is None)
    await wait_until(lambda: sorted(c.sync_state for c in _history(rig)) == [SyncState.SYNCED] * 2)
    assert len(rig.assignee_posts(slow.id)) == len(rig.assignee_posts(quick.id)) == 1


async def test_after_a_burst_of_closes_the_last_outbox_depth_reported_is_zero(rig: Rig) -> None:
    await rig.publish_unassign()
    rig.feed_events()
    await rig.service.start(poll=False)
    burst = rig.assigned_contacts()[:12]

    for contact in burst:
        rig.close(contact)

    await wait_until(lambda: [c.sync_state for c in _history(rig)] == [SyncState.SYNCED] * len(burst))
    await wait_until(lambda: [e.outbox_depth for e in rig.events if e.outbox_depth is not None][-1:] == [0])


async def test_a_workflow_published_by_another_process_runs_on_the_next_close(rig: Rig, db_url: str) -> None:
    other = Store.open(db_url)  # the window, or `closeout-cli publish`
    try:
        rig.feed_events()
        await rig.service.start(poll=False)
        saved = other.workflows.save(publish(use_template("unassign-after-close")))
        contact = rig.assigned_contacts()[0]

        rig.close(contact)

        await wait_until(lambda: [c.sync_state for c in _history(rig)] == [SyncState.SYNCED])
        (run,) = rig.store.runs.page()
        assert run.workflow_id == saved.id and run.outcome is RunOutcome.DONE
        assert len(rig.assignee_posts(contact.id)) == 1

        other.workflows.save(stop(saved))
        second = rig.assigned_contacts()[0]
        rig.close(second)

        await wait_until(lambda: len(rig.store.closes.newest()) == 2)
        assert [r.contact_id for r in rig.store.runs.page()] == [contact.id]
        assert rig.assignee_posts(second.id) == []
    finally:
        other.close()
