"""Property: whatever order intake, poll, drain and undo run in on one contact, nothing is doubled or left out."""

from __future__ import annotations

import asyncio
import itertools
import tempfile
import time
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from app.domain.errors import WorkflowError
from app.domain.history import ChangeSource, HistoryFilter, SyncState
from app.domain.people import UserRef
from app.domain.secret import Secret
from app.engine.catalog import use_template
from app.engine.lifecycle import publish
from app.engine.undo import plan_undo
from app.events import EventBus
from app.platform.client import PlatformClient
from app.platform.fake.platform import IN_PROCESS_URL, create_fake_platform
from app.platform.webhooks import parse_event
from app.storage.store import Store
from app.sync.service import SyncOptions, SyncService

STEPS = ("close", "reopen", "reassign", "deliver", "deliver", "poll", "drain", "undo")


async def _play(steps: list[str], folder: Path) -> None:
    fake = create_fake_platform(seed=5, users=3, contacts=6, rate_limit=0)
    past = itertools.count(int(time.time()) - 5_000, 7)  # the platform's clock: distinct seconds, all in the past
    fake.state.clock = lambda: float(next(past))
    store = Store.open(f"sqlite:///{folder / 'p.sqlite3'}")
    client = PlatformClient(IN_PROCESS_URL, Secret(fake.token), rate_limit=0, transport=fake.transport())
    service = SyncService(store, client, EventBus(), SyncOptions(poll_seconds=3600))
    try:
        await store.db.write(store.workflows.save, publish(use_template("unassign-after-close")))
        await service.start(poll=False, drain=False)
        await service.poller.poll_once()  # the seed's own closes, before the contact under test is watched
        await service.drain.run_until_idle()
        contact = next(c for c in fake.state.contacts.values() if c.assignee_id is not None and c.status == "open")
        users = sorted(fake.state.users)
        bodies: list[bytes] = []
        fake.add_listener(bodies.append)
        closes = 0
        for step in steps:
            if step == "close":
                user = fake.state.users.get(contact.assignee_id) if contact.assignee_id is not None else None
                closes += fake.state.close_conversation(contact, "user", user, "Resolved", "")
            elif step == "reopen" and fake.state.open_conversation(contact, "contact"):
                fake.state.assign(contact, fake.state.users[users[closes % len(users)]])
            elif step == "reassign" and contact.status == "open":
                fake.state.assign(contact, fake.state.users[users[(closes + 1) % len(users)]])
            elif step == "deliver" and bodies:
                await service.intake.submit(parse_event(bodies.pop(0)))
            elif step == "poll":
                await service.poller.poll_once()
            elif step == "drain":
                await service.drain.run_until_idle()
            elif step == "undo":
                await _undo_latest(store, service, contact.id)
        while bodies:  # every webhook arrives in the end, and the outbox empties
            await service.intake.submit(parse_event(bodies.pop(0)))
            await service.drain.run_until_idle()
        await service.poller.poll_once()
        await service.drain.run_until_idle()
        while bodies:
            await service.intake.submit(parse_event(bodies.pop(0)))
        await service.drain.run_until_idle()

        history = [c for c in store.history.page(HistoryFilter(), limit=1000).rows if c.contact_id == contact.id]
        recorded = [c for c in store.closes.newest(limit=1000) if c.contact.id == contact.id]
        assert len(recorded) <= closes, "a close was recorded twice"
        assert store.outbox.depth() == 0
        ours = [c for c in history if c.source in (ChangeSource.WORKFLOW, ChangeSource.UNDO)]
        synced_unassigns = [c for c in ours if c.to_agent_id is None and c.sync_state is SyncState.SYNCED]
        entries, _ = fake.log.since(0, limit=1_000_000)
        posts = [
            e
            for _, e in entries
            if e.method == "POST" and f"id:{contact.id}/conversation/assignee" in e.path and e.status == 200
        ]
        unassign_posts = [e for e in posts if isinstance(e.body, dict) and e.body.get("assignee", "x") is None]
        assert len(synced_unassigns) >= len(unassign_posts), "an unassign went out without its history row"
        echoes = [c for c in history if c.source is ChangeSource.PLATFORM and c.to_agent_id is None]
        assert echoes == [], "our own unassign came back as a second history row"
        cached = store.cache.contact(contact.id)
        assert cached is not None
        assert (cached.assignee.id if cached.assignee else None) == contact.assignee_id
    finally:
        await service.stop()
        await client.aclose()
        await fake.stop()
        store.close()


async def _undo_latest(store: Store, service: SyncService, contact_id: int) -> None:
    runs = [r for r in store.runs.page(limit=50) if r.contact_id == contact_id and not r.undone and r.id]
    if not runs:
        return
    run = runs[0]
    assert run.id is not None
    refs = {a.id: UserRef(a.id, a.first_name, a.last_name, a.email) for a in store.cache.agents()}
    try:
        plan = plan_undo(run, store.history.for_run(run.id), refs, time.time())
    except WorkflowError:
        return
    await service.intake.commit_plan(plan)


@pytest.mark.slow
@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.lists(st.sampled_from(STEPS), min_size=3, max_size=14))
def test_any_interleaving_on_one_contact_leaves_a_consistent_history(steps: list[str]) -> None:
    with tempfile.TemporaryDirectory() as folder:
        asyncio.run(_play(steps, Path(folder)))
