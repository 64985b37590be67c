from __future__ import annotations

import json
import random

import pytest

from app.platform.fake.faults import FaultPlan, parse_spec
from app.platform.fake.simulator import Simulator
from app.platform.fake.state import IndexedSet, Workspace

NOW = 1_790_000_000


def test_the_same_seed_gives_the_same_workspace() -> None:
    first = Workspace(seed=7, users=9, contacts=120, now=NOW)
    second = Workspace(seed=7, users=9, contacts=120, now=NOW)
    other = Workspace(seed=8, users=9, contacts=120, now=NOW)
    assert json.dumps(first.snapshot()) == json.dumps(second.snapshot())
    assert json.dumps(first.snapshot()) != json.dumps(other.snapshot())
    assert len(first.users) == 9 and len(first.contacts) == 120


def test_the_generated_workspace_looks_real() -> None:
    workspace = Workspace(seed=1, users=20, contacts=300, now=NOW)
    roles = {user.role for user in workspace.users.values()}
    assert workspace.users[1].role == "owner" and "agent" in roles
    assert len({c.phone for c in workspace.contacts.values()}) == 300
    emails = [c.email for c in workspace.contacts.values() if c.email]
    assert len(set(emails)) == len(emails) and all("@" in email for email in emails)
    statuses = {c.status for c in workspace.contacts.values()}
    assert statuses == {"open", "closed"}
    assert any(c.assignee_id is None for c in workspace.contacts.values())
    assert all(c.created_at < NOW for c in workspace.contacts.values())
    assert len(workspace.open_ids) + len(workspace.closed_ids) == 300


def test_simulated_steps_are_the_same_for_the_same_seed() -> None:
    def run(seed: int) -> str:
        clock = iter(range(NOW, NOW + 10_000))
        events: list[dict[str, object]] = []
        workspace = Workspace(
            seed=seed, event_seed=seed, contacts=50, now=NOW, clock=lambda: next(clock), on_event=events.append
        )
        simulator = Simulator(workspace, seed=seed)
        for _ in range(100):
            simulator.step()
        assert workspace.counters["closes"] == 100
        return json.dumps(events)

    assert run(3) == run(3)
    assert run(3) != run(4)


SPACE_USER_FIELDS = {"id", "firstName", "lastName", "email", "role", "team", "restrictions"}


def test_simulated_closes_look_like_an_inbox() -> None:
    events: list[dict[str, object]] = []
    workspace = Workspace(seed=2, contacts=80, now=NOW, on_event=events.append)
    simulator = Simulator(workspace, seed=2)
    for _ in range(400):
        simulator.step()
    closes = [event for event in events if event["event_type"] == "conversation.closed"]
    sources = {event["conversation"]["closedBySource"] for event in closes}  # type: ignore[index]
    assert {"user", "auto_close"} <= sources
    by_user = [event for event in closes if event["conversation"]["closedBySource"] == "user"]  # type: ignore[index]
    assert all(event["conversation"]["closedBy"]["id"] is not None for event in by_user)  # type: ignore[index]
    opens = [event for event in events if event["event_type"] == "conversation.opened"]
    contact_opens = [e for e in opens if e["conversation"]["source"] == "contact"]  # type: ignore[index]
    assert len(contact_opens) > len(opens) / 2
    # The opened shape the platform sends: source, time and the contact's first message with its channel.
    assert all(
        set(e["conversation"])
        == {"source", "conversationOpenedAt", "firstIncomingMessage", "firstIncomingMessageChannelId"}  # type: ignore[arg-type]
        for e in opens
    )
    assert all(isinstance(e["conversation"]["firstIncomingMessage"], str) for e in contact_opens)  # type: ignore[index]
    assert any(event["event_type"] == "contact.assignee.updated" for event in events)
    assert all(set(user.to_json()) == SPACE_USER_FIELDS for user in workspace.users.values())


def test_event_ids_are_fresh_unless_seeded() -> None:
    def first_id(event_seed: int | None) -> str:
        workspace = Workspace(seed=1, event_seed=event_seed, contacts=5, now=NOW)
        return workspace.event_id()

    assert first_id(None) != first_id(None)
    assert first_id(4) == first_id(4)


def test_indexed_set() -> None:
    items = IndexedSet([1, 2, 3])
    items.discard(1)
    items.discard(9)
    items.add(4)
    assert sorted(items) == [2, 3, 4] and len(items) == 3 and 4 in items
    assert items.choice(random.Random(0)) in {2, 3, 4}


def test_fault_specs() -> None:
    assert parse_spec("429=0.05, 500=0.02,timeout=0") == {"429": 0.05, "500": 0.02}
    for bad in ("418=0.1", "500", "500=x", "500=1.5", "500=0.6,502=0.6"):
        with pytest.raises(ValueError):
            parse_spec(bad)


def test_fault_plan_script_before_probabilities() -> None:
    plan = FaultPlan("500=1.0")
    plan.script(["429", "ok", "reset"])
    assert [plan.next_fault() for _ in range(4)] == ["429", None, "reset", "500"]
    plan.configure({"clear": True, "script": ["garbage"], "stall_seconds": 2, "retry_after": 3})
    assert [plan.next_fault(), plan.next_fault()] == ["garbage", None]
    assert (plan.stall_seconds, plan.retry_after) == (2.0, 3)
    assert plan.to_json()["injected"] == {"429": 1, "reset": 1, "500": 1, "garbage": 1}
    for bad in ({"script": ["boom"]}, {"spec": 5}, {"probabilities": {"500": 2}}, {"stall_seconds": -1}):
        with pytest.raises(ValueError):
            plan.configure(bad)


def test_fault_probabilities_are_roughly_honoured() -> None:
    plan = FaultPlan({"503": 0.25}, seed=1)
    hits = sum(plan.next_fault() == "503" for _ in range(4000))
    assert 850 <= hits <= 1150
