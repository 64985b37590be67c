"""The planner's view of the store on the writer thread: read only what a plan asks for, and see the batch."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import replace
from pathlib import Path

import pytest

from app.domain.people import ContactStatus
from app.domain.plan import Plan, PlannedAction, PlannedRun
from app.storage.store import Store
from app.sync.store_view import StoreView
from tests.factories import MAYA, RAVI, close, contact, unassign_plan


@pytest.fixture
def store(tmp_path: Path) -> Iterator[Store]:
    opened = Store.open(f"sqlite:///{tmp_path / 'view.sqlite3'}")
    yield opened
    opened.close()


def _assigning(to_agent: int, contact_id: int) -> Plan:
    """A plan whose one run assigns the contact to `to_agent`."""
    plan = unassign_plan(close(contact_id))
    (planned,) = plan.runs
    (action,) = planned.actions
    assert action.change is not None
    change = replace(action.change, from_agent_id=None, to_agent_id=to_agent)
    return replace(plan, runs=(PlannedRun(planned.run, (PlannedAction(change, action.command),)),))


def test_loads_read_late_still_count_what_the_batch_planned_before(store: Store) -> None:
    store.cache.upsert_agents([MAYA, RAVI])
    store.cache.upsert_contacts([contact(1), contact(2), contact(3, assignee=RAVI.ref)])
    store.cache.upsert_contacts([contact(4, status=ContactStatus.OPEN)])
    view = StoreView(store)

    view.absorb(_assigning(RAVI.id, 10))  # before anyone read the loads
    loads = dict(view.open_load())
    view.absorb(_assigning(RAVI.id, 11))  # after

    assert loads == {**store.cache.open_load(), RAVI.id: store.cache.open_load().get(RAVI.id, 0) + 1}
    assert view.open_load()[RAVI.id] == loads[RAVI.id] + 1
    assert [a.id for a in view.agents()] == sorted(a.id for a in store.cache.agents())
    assert view.has_run(1, 10) and not view.has_run(1, 12)
