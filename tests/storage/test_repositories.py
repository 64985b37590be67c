"""The cache, workflow, run and meta repositories."""

from __future__ import annotations

import time
from dataclasses import replace

import pytest

from app.domain.errors import NotFoundLocally
from app.domain.people import Contact, ContactStatus
from app.domain.workflows import (
    AssignAction,
    AssignToStep,
    Condition,
    ConditionField,
    ConditionOperator,
    RunOutcome,
    Trigger,
    TriggerKind,
    Workflow,
    WorkflowSettings,
    WorkflowState,
)
from app.storage.store import Store
from tests.factories import MAYA, RAVI, close, unassign_plan
from tests.store_queries import close_is_known, contact_count


def test_contacts_and_agents_upsert_and_read_back(store: Store) -> None:
    store.cache.upsert_agents([MAYA, RAVI])
    store.cache.upsert_contacts([Contact(1, "Ana", "Cruz", tags=("vip",), assignee=MAYA.ref)])
    store.cache.upsert_contacts([Contact(1, "Ana", "Cruz-Lee", tags=("vip", "b2b"), assignee=RAVI.ref)])

    assert store.cache.agents() == [MAYA, RAVI]
    cached = store.cache.contact(1)
    assert cached == Contact(1, "Ana", "Cruz-Lee", tags=("vip", "b2b"), assignee=RAVI.ref)
    assert store.cache.contacts([1, 2]) == {1: cached}
    assert contact_count(store) == 1


def test_open_load_counts_open_contacts_per_agent(store: Store) -> None:
    store.cache.upsert_contacts(
        [
            Contact(1, assignee=MAYA.ref),
            Contact(2, assignee=MAYA.ref),
            Contact(3, assignee=MAYA.ref, status=ContactStatus.CLOSED),
            Contact(4, assignee=RAVI.ref),
            Contact(5),
        ]
    )
    assert store.cache.open_load() == {MAYA.id: 2, RAVI.id: 1}


def test_a_plan_caches_its_contacts_then_applies_the_assignee_updates(store: Store) -> None:
    store.cache.upsert_contacts([Contact(2, "Old", "Name", assignee=RAVI.ref)])
    store.plans.commit_many([unassign_plan(close(1)), unassign_plan(close(2))])
    first = store.cache.contact(1)
    second = store.cache.contact(2)
    assert first is not None and first.status is ContactStatus.CLOSED and first.assignee is None
    assert second is not None and second.first_name == "Contact" and second.assignee is None


def _workflow() -> Workflow:
    return Workflow(
        name="Unassign on close (Spam excluded)",
        trigger=Trigger(
            TriggerKind.CONVERSATION_CLOSED,
            (Condition(ConditionField.CATEGORY, ConditionOperator.IS_NOT, ("Spam",)),),
        ),
        steps=(AssignToStep(AssignAction.UNASSIGN),),
        settings=WorkflowSettings(verify_before_unassign=False),
    )


def test_workflows_save_update_and_list_by_state(store: Store) -> None:
    saved = store.workflows.save(_workflow())
    assert saved.id is not None and saved.created_at > 0
    assert store.workflows.get(saved.id) == saved

    published = store.workflows.save(replace(saved, state=WorkflowState.PUBLISHED, version=1))
    assert store.workflows.get(saved.id) == published
    assert store.workflows.all(WorkflowState.PUBLISHED) == [published]
    assert store.workflows.all(WorkflowState.DRAFT) == []

    with pytest.raises(NotFoundLocally):
        store.workflows.get(999)
    with pytest.raises(NotFoundLocally):
        store.workflows.save(replace(saved, id=999))


def test_run_log_pages_filters_and_stats(store: Store) -> None:
    now = time.time()
    store.plans.commit_many([unassign_plan(close(i), workflow_id=1 + i % 2, at=now) for i in range(1, 8)])
    runs = store.runs.page()
    assert [r.contact_id for r in runs] == [7, 6, 5, 4, 3, 2, 1]
    assert [r.contact_id for r in store.runs.page(workflow_id=2)] == [7, 5, 3, 1]
    assert [r.contact_id for r in store.runs.page(before_id=runs[2].id, limit=2)] == [4, 3]

    newest = runs[0]
    assert newest.id is not None
    assert store.plans.cancel_unsent(newest.id, "skipped: the supervisor cancelled it", close(7).contact)
    assert [r.contact_id for r in store.runs.page(outcome=RunOutcome.SKIPPED)] == [7]

    stats = store.workflows.stats(since=now - 1)
    assert stats[1].runs_today == 3 and stats[2].runs_today == 4
    assert stats[2].last_outcome is RunOutcome.SKIPPED
    assert store.runs.has_run(2, 1) and not store.runs.has_run(1, 1)


def test_closes_newest_first_and_by_period(store: Store) -> None:
    store.plans.commit_many([unassign_plan(close(i, closed_time=1_000 + i)) for i in range(1, 6)])
    assert [c.contact.id for c in store.closes.newest(limit=3)] == [5, 4, 3]
    assert [c.contact.id for c in store.closes.between(1_002, 1_004)] == [2, 3]
    assert close_is_known(store, "ev-3-1003", 0, 0) and close_is_known(store, "x", 3, 1_003)
    assert not close_is_known(store, "x", 3, 1_004)
    newest = store.closes.newest(limit=1)[0]
    assert newest.id is not None and store.closes.get(newest.id) == newest
    assert newest.assignee_at_close == MAYA.ref


def test_meta_values_round_trip(store: Store) -> None:
    assert store.meta.get("rr:1", "0") == "0"
    store.meta.set("rr:1", "3")
    store.meta.set("rr:1", "4")
    assert store.meta.get("rr:1") == "4"


def test_contacts_are_found_by_any_part_of_their_name_phone_or_email_in_any_case(store: Store) -> None:
    from app.domain.people import Contact

    store.cache.upsert_contacts(
        [
            Contact(1, "Ana", "Lima", "+44 7700 900123", "ana@example.org"),
            Contact(2, "Mariana", "Costa", None, None),
            Contact(3, "Joe", "Banana_Split", "+1 555 0100", "joe%@example.org"),
            Contact(4, "Zoe", "Park", None, "100%zoe@example.org"),
        ]
    )

    def ids(text: str) -> list[int]:
        return [c.id for c in store.cache.find(text, 10)]

    assert ids("ANA") == [1, 3, 2]  # first or last name, any case, ordered by name
    assert ids("ana lima") == [1]  # a space: the whole name
    assert ids("7700 900") == [1]  # a phone, spaces and all
    assert ids("ANA@EXAMPLE") == [1]
    assert ids("_") == [3]  # a typed _ or % is itself, not a wildcard
    assert ids("%") == [3, 4]
    assert ids("nobody") == []
