"""449 and 404 through the real drain, store and client against the fake over loopback.

A queued (449) command waits minutes while the other contacts' commands go out; an assign to a user the
platform does not know fails with words about the user, not the contact.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import replace
from pathlib import Path

from app.domain.conversations import ConversationOpened, OpenedBySource
from app.domain.outbox import OutboxState
from app.domain.people import Agent, Contact, ContactStatus, UserRef
from app.domain.workflows import AssignAction, AssignToStep, RunOutcome
from app.engine.catalog import use_template
from app.engine.lifecycle import publish
from app.engine.planner import plan_event
from app.engine.view import SnapshotView
from app.platform.client import QUEUED_MAX_S, QUEUED_MIN_S
from app.storage.store import Store
from app.sync.connectivity import ConnectivityState
from app.sync.drain import Drain
from tests.factories import close
from tests.platform.conftest import Served
from tests.store_queries import commands_in

ServeFactory = Callable[..., Served]


def _closed_and_assigned(served: Served, count: int) -> list[tuple[int, int]]:
    contacts = served.platform.state.contacts.values()
    found = [(c.id, c.assignee_id) for c in contacts if c.assignee_id is not None and c.status == "closed"]
    assert len(found) >= count
    return [(contact_id, user) for contact_id, user in found[:count] if user is not None]


async def test_a_queued_unassign_waits_minutes_while_the_others_go_out(serve: ServeFactory, tmp_path: Path) -> None:
    served = serve(contacts=60)
    store = Store.open(f"sqlite:///{tmp_path / 'queued.sqlite3'}")
    try:
        workflow = store.workflows.save(publish(use_template("unassign-after-close")))
        targets = _closed_and_assigned(served, 6)
        for contact_id, user in targets:
            event = close(contact_id, assignee=UserRef(user, "A", "B", "a@b.c"))
            store.plans.commit(plan_event(event, [workflow], SnapshotView(), time.time()))
        served.faults(script=["449"])  # the first request of all is queued by the platform
        async with served.client() as client:
            drain = Drain(store, lambda: client, ConnectivityState(demo=False, on_change=lambda _: None), print)
            started = time.time()
            await drain.run_until_idle()
        done = commands_in(store, OutboxState.DONE)
        (queued,) = commands_in(store, OutboxState.PENDING)
        assert len(done) == 5
        assert started + QUEUED_MIN_S - 1 <= queued.next_attempt_at <= time.time() + QUEUED_MAX_S + 1
        assert queued.last_error is not None and "in queue" in queued.last_error
        state = served.platform.state
        assert sum(state.contacts[c].assignee_id is None for c, _ in targets) == 5
    finally:
        store.close()


async def test_assigning_a_user_the_platform_does_not_know_fails_in_words_about_the_user(
    served: Served, tmp_path: Path
) -> None:
    store = Store.open(f"sqlite:///{tmp_path / 'unknown.sqlite3'}")
    try:
        step = AssignToStep(AssignAction.SPECIFIC_USER, user_id=4242)  # known to the cache, gone from the platform
        template = publish(use_template("least-open-contacts", values={"team": "1"}))
        workflow = store.workflows.save(replace(template, steps=(step,)))
        ghost = Agent(4242, "Gone", "User", "gone@example.com")
        contact = Contact(1, "New", "Contact", status=ContactStatus.OPEN)
        event = ConversationOpened("open-1", contact, int(time.time()), OpenedBySource.CONTACT)
        plan = plan_event(event, [workflow], SnapshotView(agent_list=[ghost]), time.time())
        assert plan.runs[0].run.outcome is RunOutcome.DONE
        store.plans.commit(plan)
        async with served.client() as client:
            drain = Drain(store, lambda: client, ConnectivityState(demo=False, on_change=lambda _: None), print)
            await drain.run_until_idle()
        (failed,) = commands_in(store, OutboxState.FAILED)
        assert failed.last_error is not None and "User not found" in failed.last_error
        (run,) = store.runs.page(limit=10)
        assert run.reason == "failed: user not found on the platform"
    finally:
        store.close()
