"""Real-shaped webhook payloads (tests/fixtures/webhooks), parsed and run through the planner.

The samples are written for these tests with the field names and types respond.io's sources show: the
closed event as Activepieces' and aikit's samples have it, the opened event as four integrations agree
(`conversation: {source, conversationOpenedAt, firstIncomingMessage, firstIncomingMessageChannelId}`).
"""

from __future__ import annotations

import json
from dataclasses import replace
from pathlib import Path

import pytest

from app.domain.conversations import (
    AssigneeChanged,
    ClosedBySource,
    ClosedConversation,
    ConversationOpened,
    OpenedBySource,
)
from app.domain.outbox import CommandKind
from app.domain.people import Agent, Contact, ContactStatus, Team
from app.domain.workflows import Condition, ConditionField, ConditionOperator, RunOutcome
from app.engine.catalog import use_template
from app.engine.lifecycle import publish
from app.engine.planner import plan_assignee_changed, plan_event
from app.engine.view import SnapshotView
from app.platform.webhooks import parse_event

SAMPLES = Path(__file__).resolve().parents[2] / "fixtures" / "webhooks"
NOW = 1_733_200_000.0
BILLING = Team(7, "Billing")
DANIEL = Agent(311, "Daniel", "Ong", "daniel.ong@example.com", team=BILLING)
AISHA = Agent(327, "Aisha", "Karim", "aisha.karim@example.com", team=BILLING)


def sample(name: str) -> bytes:
    return (SAMPLES / f"{name}.json").read_bytes()


def view() -> SnapshotView:
    return SnapshotView(agent_list=[DANIEL, AISHA], loads={DANIEL.id: 4, AISHA.id: 1})


def test_a_recorded_close_is_parsed_and_unassigns_the_agent_who_had_it() -> None:
    event = parse_event(sample("conversation_closed"))
    assert isinstance(event, ClosedConversation)
    assert (event.contact.id, event.closed_time, event.closed_by_source) == (48213, 1733043711, ClosedBySource.USER)
    assert event.closed_by is not None and event.closed_by.id == 311
    assert (event.category, event.summary, event.assignee_team) == ("Resolved", "Refund confirmed by email", "Billing")
    assert event.opened_by_source is OpenedBySource.CONTACT and event.opened_time == 1733040120
    assert event.assignee_at_close is not None and event.assignee_at_close.id == 311
    workflow = replace(publish(use_template("unassign-after-close")), id=1)
    plan = plan_event(event, [workflow], view(), NOW)
    (planned,) = plan.runs
    assert (planned.run.outcome, planned.run.reason) == (RunOutcome.DONE, "unassigned Daniel Ong")
    (action,) = planned.actions
    assert action.command is not None and action.command.kind is CommandKind.UNASSIGN
    assert action.command.payload["expected_assignee"] == 311
    assert plan.contacts[0].status is ContactStatus.CLOSED


def test_a_recorded_open_in_the_real_shape_is_parsed_and_assigned() -> None:
    event = parse_event(sample("conversation_opened"), received_at=1)
    assert isinstance(event, ConversationOpened)
    assert event.opened_time == 1733100030  # conversationOpenedAt, not the arrival time
    assert event.opened_by_source is OpenedBySource.CONTACT  # conversation.source
    assert event.contact.assignee is None
    workflow = replace(publish(use_template("least-open-contacts", values={"team": "7"})), id=2)
    planned = plan_event(event, [workflow], view(), NOW).runs[0]
    assert (planned.run.outcome, planned.run.reason) == (RunOutcome.DONE, "assigned Aisha Karim")


@pytest.mark.parametrize(
    ("wanted", "outcome"), [("contact", RunOutcome.DONE), ("api", RunOutcome.SKIPPED), ("user", RunOutcome.SKIPPED)]
)
def test_conditions_on_the_opened_by_source_read_the_real_shape(wanted: str, outcome: RunOutcome) -> None:
    event = parse_event(sample("conversation_opened"))
    assert isinstance(event, ConversationOpened)
    workflow = replace(publish(use_template("least-open-contacts", values={"team": "7"})), id=2)
    condition = Condition(ConditionField.OPENED_BY_SOURCE, ConditionOperator.IS, (wanted,))
    workflow = replace(workflow, trigger=replace(workflow.trigger, conditions=(condition,)))
    assert plan_event(event, [workflow], view(), NOW).runs[0].run.outcome is outcome


def test_the_older_opened_names_are_still_read() -> None:
    data = json.loads(sample("conversation_opened"))
    data["conversation"] = {"openedBySource": "api", "openedTime": 1733100099}
    event = parse_event(json.dumps(data).encode(), received_at=1)
    assert isinstance(event, ConversationOpened)
    assert (event.opened_time, event.opened_by_source) == (1733100099, OpenedBySource.API)
    data["conversation"] = {}
    fallback = parse_event(json.dumps(data).encode(), received_at=1733100500)
    assert isinstance(fallback, ConversationOpened)
    assert (fallback.opened_time, fallback.opened_by_source) == (1733100500, OpenedBySource.UNKNOWN)


def test_a_recorded_assignee_update_is_parsed_and_recorded_as_a_platform_change() -> None:
    event = parse_event(sample("contact_assignee_updated"), received_at=1733050000)
    assert isinstance(event, AssigneeChanged)
    assert event.contact.assignee is not None and event.contact.assignee.id == 327
    cached = Contact(48213, "Priya", "Raman", assignee=DANIEL.ref, status=ContactStatus.CLOSED)
    (change,) = plan_assignee_changed(event, cached, NOW).observed
    assert (change.from_agent_id, change.to_agent_id) == (311, 327)
    assert change.reason == "assigned to Aisha Karim on the platform"
