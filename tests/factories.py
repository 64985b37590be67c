"""Small builders for domain objects, so tests say only what matters to them."""

from __future__ import annotations

import time
from dataclasses import replace

from app.domain.conversations import ClosedBySource, ClosedConversation
from app.domain.history import AssignmentChange, ChangeSource
from app.domain.outbox import CommandKind, OutboxCommand
from app.domain.people import Agent, Contact, ContactStatus, Team, UserRef
from app.domain.plan import AssigneeUpdate, Plan, PlannedAction, PlannedRun
from app.domain.workflows import RunOutcome, WorkflowRun

MAYA = Agent(7, "Maya", "Lee", "maya@example.com", team=Team(1, "Support"))
RAVI = Agent(8, "Ravi", "Shah", "ravi@example.com", team=Team(1, "Support"))


def contact(contact_id: int, assignee: UserRef | None = MAYA.ref, **fields: object) -> Contact:
    email = f"c{contact_id}@example.com"
    return Contact(contact_id, "Contact", str(contact_id), email=email, assignee=assignee, **fields)  # type: ignore[arg-type]


def close(
    contact_id: int,
    closed_time: int = 1_700_000_000,
    event_id: str | None = None,
    assignee: UserRef | None = MAYA.ref,
    source: ClosedBySource = ClosedBySource.USER,
    category: str | None = "Resolved",
) -> ClosedConversation:
    return ClosedConversation(
        event_id=event_id or f"ev-{contact_id}-{closed_time}",
        contact=contact(contact_id, assignee),
        closed_time=closed_time,
        closed_by_source=source,
        closed_by=MAYA.ref if source is ClosedBySource.USER else None,
        category=category,
        assignee_at_close=assignee,
    )


def unassign_plan(conversation: ClosedConversation, workflow_id: int = 1, at: float | None = None) -> Plan:
    """The plan the unassign template makes for a close: a run, a history row, an outbox command, a cache update."""
    at = time.time() if at is None else at
    contact_id = conversation.contact.id
    previous = conversation.assignee_at_close
    run = WorkflowRun(
        key=f"{workflow_id}:{conversation.event_id}",
        workflow_id=workflow_id,
        workflow_version=1,
        contact_id=contact_id,
        started_at=at,
        outcome=RunOutcome.WAITING,
        reason=f"unassigning {previous.name if previous else 'nobody'}",
    )
    change = AssignmentChange(
        contact_id=contact_id,
        at=at,
        from_agent_id=previous.id if previous else None,
        to_agent_id=None,
        source=ChangeSource.WORKFLOW,
        actor="Unassign After Conversation Closes",
        reason=f"unassigned {previous.name if previous else 'nobody'}",
    )
    command = OutboxCommand(
        kind=CommandKind.UNASSIGN,
        contact_id=contact_id,
        idempotency_key=f"unassign:{workflow_id}:{conversation.event_id}",
        payload={"expected_assignee": previous.id if previous else None},
        created_at=at,
    )
    return Plan(
        close=conversation,
        runs=(PlannedRun(run, (PlannedAction(change, command),)),),
        contacts=(replace(conversation.contact, status=ContactStatus.CLOSED),),
        cache_updates=(AssigneeUpdate(contact_id, None),),
    )
