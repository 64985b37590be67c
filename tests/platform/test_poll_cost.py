"""The reconciling poll over loopback: it lists only assigned contacts, falls back form by form, and says which.

Users are listed on their own slower schedule; a close the poll finds is dated between the previous poll
and the one that found it, never at the second the poll ran.
"""

from __future__ import annotations

import logging
import time
from collections.abc import AsyncIterator, Callable
from dataclasses import replace
from pathlib import Path
from urllib.parse import parse_qs

import pytest

from app.domain.conversations import ClosedBySource, ConversationOpened, OpenedBySource
from app.domain.people import Contact
from app.domain.workflows import AssignAction, AssignToStep
from app.engine.catalog import use_template
from app.engine.lifecycle import publish
from app.engine.planner import plan_event
from app.engine.view import SnapshotView
from app.events import EventBus
from app.storage.store import Store
from app.sync.poller import PER_AGENT, Poller
from app.sync.service import SyncOptions, SyncService
from tests.platform.conftest import Served

ServeFactory = Callable[..., Served]


@pytest.fixture
async def polling(serve: ServeFactory, tmp_path: Path) -> AsyncIterator[Callable[..., object]]:
    made: list[tuple[SyncService, Store]] = []

    async def make(**options: object) -> tuple[Served, Poller]:
        served = serve(**options)
        store = Store.open(f"sqlite:///{tmp_path / 'poll.sqlite3'}")
        service = SyncService(store, served.client(), EventBus(), SyncOptions(poll_seconds=3600))
        made.append((service, store))
        await service.start(poll=False, drain=False)
        return served, service.poller

    yield make
    for service, store in made:
        await service.stop()
        await service.client.aclose()
        store.close()


def _list_filters(served: Served, since: int = 0) -> list[str]:
    """The assigneeUserId operator (and value) of each contact-list request from log entry `since` on."""
    found = []
    for entry in served.log(since):
        if entry["path"] == "/v2/contact/list":
            (condition,) = entry["body"]["filter"]["$and"]
            found.append(f"{condition['operator']} {condition['value']}")
    return found


async def test_a_poll_lists_only_assigned_contacts_and_users_only_when_due(polling) -> None:  # type: ignore[no-untyped-def]
    served, poller = await polling(contacts=450, users=30)
    state = served.platform.state
    assigned = sum(1 for c in state.contacts.values() if c.assignee_id is not None)
    first = await poller.poll_once()
    assert (first.contacts, first.agents, first.form) == (assigned, 30, "exists")
    assert first.requests == 1 + -(-assigned // 100)  # one page of users, then the assigned contacts
    assert set(_list_filters(served)) == {"exists None"}
    assert all(parse_qs(e["query"])["limit"] == ["100"] for e in served.log() if e["path"] == "/v2/contact/list")
    mark = len(served.log())
    second = await poller.poll_once()
    assert second.agents == 0 and second.requests == -(-assigned // 100)
    assert not any(e["path"].startswith("/v2/space/user") for e in served.log(mark))


async def test_a_refused_form_falls_back_to_the_next_and_the_log_says_which(polling, caplog) -> None:  # type: ignore[no-untyped-def]
    served, poller = await polling(contacts=200, refused_operators=("exists",))
    pages = -(-sum(1 for c in served.platform.state.contacts.values() if c.assignee_id is not None) // 100)
    assert pages == 2
    with caplog.at_level(logging.INFO, logger="closeout.poller"):
        result = await poller.poll_once()
    assert result.form == "isNotEqualTo"
    assert _list_filters(served) == ["exists None", "isNotEqualTo None", "isNotEqualTo None"]
    assert "polling assigned contacts with the assigneeUserId 'isNotEqualTo' filter" in caplog.text
    mark = len(served.log())
    await poller.poll_once()
    assert _list_filters(served, mark) == ["isNotEqualTo None", "isNotEqualTo None"]  # remembered


async def test_with_every_form_refused_the_poll_asks_per_agent(polling, caplog) -> None:  # type: ignore[no-untyped-def]
    served, poller = await polling(contacts=80, users=5, refused_operators=("exists", "isNotEqualTo"))
    state = served.platform.state
    with caplog.at_level(logging.INFO, logger="closeout.poller"):
        result = await poller.poll_once()
    assert result.form == PER_AGENT
    assert result.contacts == sum(1 for c in state.contacts.values() if c.assignee_id is not None)
    per_agent = _list_filters(served)[2:]
    assert sorted(per_agent) == sorted(f"isEqualTo {user_id}" for user_id in state.users)
    assert "one assigneeUserId isEqualTo query per agent" in caplog.text


async def test_a_close_found_by_the_poll_is_dated_after_the_previous_poll(polling) -> None:  # type: ignore[no-untyped-def]
    served, poller = await polling(contacts=60)
    first = await poller.poll_once()
    assert first.detected > 0  # the generated workspace has closed-but-assigned contacts
    assert poller.last_at is not None
    state = served.platform.state
    contact = next(c for c in state.contacts.values() if c.status == "open" and c.assignee_id is not None)
    state.close_conversation(contact, "user", state.users[contact.assignee_id])  # no webhook: nobody listens
    before = int(poller.last_at)
    second = await poller.poll_once()
    assert second.detected == 1
    store = poller._store
    (close,) = [c for c in store.closes.newest(1000) if c.contact.id == contact.id]
    assert close.closed_by_source is ClosedBySource.DETECTED_BY_POLL
    assert close.detected_at is not None and close.detected_at >= before
    assert close.closed_time <= before <= close.detected_at  # between the polls, not at the poll's second


async def test_a_contact_unassigned_with_no_webhook_is_unassigned_in_the_cache(polling) -> None:  # type: ignore[no-untyped-def]
    served, poller = await polling(contacts=60)
    await poller.poll_once()
    state = served.platform.state
    store = poller._store
    quiet = next(c for c in state.contacts.values() if c.status == "open" and c.assignee_id is not None)
    cached = store.cache.contact(quiet.id)
    assert cached is not None and cached.assignee is not None
    state.assign(quiet, None)  # on the platform, with nobody listening
    result = await poller.poll_once()
    assert result.requests == -(-result.contacts // 100)  # no extra request to learn it
    cached = store.cache.contact(quiet.id)
    assert cached is not None and cached.assignee is None


async def test_a_contact_with_a_command_still_to_send_keeps_what_the_cache_planned(polling) -> None:  # type: ignore[no-untyped-def]
    served, poller = await polling(contacts=60)
    await poller.poll_once()
    store = poller._store
    state = served.platform.state
    waiting = next(c for c in state.contacts.values() if c.assignee_id is None)
    user = next(u for u in state.users.values() if u.role != "owner")
    step = AssignToStep(AssignAction.SPECIFIC_USER, user_id=user.id)
    workflow = store.workflows.save(
        replace(publish(use_template("least-open-contacts", values={"team": "1"})), steps=(step,))
    )
    event = ConversationOpened("open-q", Contact(waiting.id, "Q"), int(time.time()), OpenedBySource.CONTACT)
    agents = store.cache.agents()
    store.plans.commit(plan_event(event, [workflow], SnapshotView(agent_list=agents), time.time()))
    planned = store.cache.contact(waiting.id)
    assert planned is not None and planned.assignee is not None and planned.assignee.id == user.id
    await poller.poll_once()  # the platform does not show it assigned yet: the assign is still queued
    kept = store.cache.contact(waiting.id)
    assert kept is not None and kept.assignee is not None and kept.assignee.id == user.id


async def test_after_falling_back_per_agent_the_cheap_forms_are_tried_again_with_the_users(polling) -> None:  # type: ignore[no-untyped-def]
    served, poller = await polling(contacts=60, users=4, refused_operators=("exists", "isNotEqualTo"))
    assert (await poller.poll_once()).form == PER_AGENT
    mark = len(served.log())
    assert (await poller.poll_once()).form == PER_AGENT  # users not due: straight to the per-agent queries
    assert all(f.startswith("isEqualTo") for f in _list_filters(served, mark))
    served.platform.refused_operators = frozenset()  # the platform now takes the filter
    poller.refresh_users_soon()
    assert (await poller.poll_once()).form == "exists"
