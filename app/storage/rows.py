"""Mapping between database rows and domain objects, kept in one place so each repository stays short."""

from __future__ import annotations

import dataclasses
import json
import math
from collections.abc import Mapping
from typing import Any

from sqlalchemy import ColumnElement, Table
from sqlalchemy.sql.base import ReadOnlyColumnCollection
from sqlalchemy.sql.elements import KeyedColumnElement

from app.domain.conversations import ClosedBySource, ClosedConversation, OpenedBySource
from app.domain.history import AssignmentChange, ChangeSource, SyncState
from app.domain.outbox import CommandKind, OutboxCommand, OutboxState
from app.domain.people import Agent, AgentRole, Contact, ContactStatus, Team, UserRef
from app.domain.workflow_codec import definition_from_dict, definition_to_dict
from app.domain.workflows import RunOutcome, Workflow, WorkflowRun, WorkflowState

RowData = Mapping[Any, Any]


def user_ref(user_id: int | None, first: str, last: str, email: str) -> UserRef | None:
    """A UserRef from the four stored columns, None when unassigned."""
    return None if user_id is None else UserRef(user_id, first, last, email)


def assignee_columns(ref: UserRef | None) -> dict[str, Any]:
    """The stored columns for an assignee reference."""
    if ref is None:
        return {"assignee_id": None, "assignee_first_name": "", "assignee_last_name": "", "assignee_email": ""}
    return {
        "assignee_id": ref.id,
        "assignee_first_name": ref.first_name,
        "assignee_last_name": ref.last_name,
        "assignee_email": ref.email,
    }


def _tags(tags: tuple[str, ...]) -> str:
    return json.dumps(list(tags)) if tags else "[]"


# The condition under which an offered contact snapshot replaces the cached row: it was read no earlier.
Excluded = ReadOnlyColumnCollection[str, KeyedColumnElement[Any]]
"""An upsert's offered row, as `excluded` names it."""


def newer_snapshot(contacts: Table, excluded: Excluded) -> ColumnElement[bool]:
    """An upsert's condition on contacts: the offered row was read at or after the stored one."""
    return excluded.seen_at >= contacts.c.seen_at


def contact_values(contact: Contact, now: float, seen_at: float | None = None) -> dict[str, Any]:
    """A contacts-table row for `contact`, versioned by `seen_at` (when its state was read; default `now`)."""
    return {
        "id": contact.id,
        "first_name": contact.first_name,
        "last_name": contact.last_name,
        "phone": contact.phone,
        "email": contact.email,
        **assignee_columns(contact.assignee),
        "status": contact.status.value,
        "tags": _tags(contact.tags),
        "created_at": contact.created_at,
        "updated_at": now,
        "seen_at": now if seen_at is None else seen_at,
    }


def contact_from(row: RowData) -> Contact:
    """The domain contact for a contacts-table row."""
    return Contact(
        id=row["id"],
        first_name=row["first_name"],
        last_name=row["last_name"],
        phone=row["phone"],
        email=row["email"],
        assignee=user_ref(
            row["assignee_id"], row["assignee_first_name"], row["assignee_last_name"], row["assignee_email"]
        ),
        status=ContactStatus.parse(row["status"]),
        tags=tuple(json.loads(row["tags"] or "[]")),
        created_at=row["created_at"],
    )


def agent_values(agent: Agent, now: float) -> dict[str, Any]:
    """An agents-table row for `agent`."""
    return {
        "id": agent.id,
        "first_name": agent.first_name,
        "last_name": agent.last_name,
        "email": agent.email,
        "role": agent.role.value,
        "team_id": agent.team.id if agent.team else None,
        "team_name": agent.team.name if agent.team else None,
        "online": False,  # a column of the first schema, from before presence was known to be unavailable
        "updated_at": now,
    }


def agent_from(row: RowData) -> Agent:
    """The domain agent for an agents-table row."""
    team = Team(row["team_id"], row["team_name"] or "") if row["team_id"] is not None else None
    try:
        role = AgentRole(row["role"])
    except ValueError:
        role = AgentRole.AGENT
    return Agent(row["id"], row["first_name"], row["last_name"], row["email"], role, team)


def close_values(close: ClosedConversation, now: float) -> dict[str, Any]:
    """A closes-table row for `close`."""
    contact = close.contact
    closed_by = close.closed_by
    return {
        "event_id": close.event_id,
        "contact_id": contact.id,
        "contact_first_name": contact.first_name,
        "contact_last_name": contact.last_name,
        "contact_phone": contact.phone,
        "contact_email": contact.email,
        "contact_tags": _tags(contact.tags),
        "closed_time": close.closed_time,
        "closed_by_source": close.closed_by_source.value,
        "closed_by_id": closed_by.id if closed_by else None,
        "closed_by_name": closed_by.name if closed_by else "",
        "category": close.category,
        "summary": close.summary,
        **assignee_columns(close.assignee_at_close),
        "assignee_team": close.assignee_team,
        "opened_time": close.opened_time,
        "opened_by_source": close.opened_by_source.value if close.opened_by_source else None,
        "channel": close.channel,
        "recorded_at": now,
        "detected_at": close.detected_at,
    }


def close_from(row: RowData) -> ClosedConversation:
    """The domain close for a closes-table row."""
    assignee = user_ref(
        row["assignee_id"], row["assignee_first_name"], row["assignee_last_name"], row["assignee_email"]
    )
    contact = Contact(
        id=row["contact_id"],
        first_name=row["contact_first_name"],
        last_name=row["contact_last_name"],
        phone=row["contact_phone"],
        email=row["contact_email"],
        assignee=assignee,
        status=ContactStatus.CLOSED,
        tags=tuple(json.loads(row["contact_tags"] or "[]")),
    )
    closed_by = None
    if row["closed_by_id"] is not None:
        first, _, last = (row["closed_by_name"] or "").partition(" ")
        closed_by = UserRef(row["closed_by_id"], first, last)
    return ClosedConversation(
        event_id=row["event_id"],
        contact=contact,
        closed_time=row["closed_time"],
        closed_by_source=ClosedBySource.parse(row["closed_by_source"]),
        closed_by=closed_by,
        category=row["category"],
        summary=row["summary"],
        assignee_at_close=assignee,
        assignee_team=row["assignee_team"],
        opened_time=row["opened_time"],
        opened_by_source=OpenedBySource.parse(row["opened_by_source"]) if row["opened_by_source"] else None,
        channel=row["channel"],
        id=row["id"],
        detected_at=row["detected_at"],
    )


def change_values(change: AssignmentChange) -> dict[str, Any]:
    """A changes-table row for `change` (without its id)."""
    return {
        "contact_id": change.contact_id,
        "conversation_id": change.conversation_id,
        "at": change.at,
        "from_agent_id": change.from_agent_id,
        "to_agent_id": change.to_agent_id,
        "source": change.source.value,
        "actor": change.actor,
        "reason": change.reason,
        "sync_state": change.sync_state.value,
        "workflow_id": change.workflow_id,
        "run_id": change.run_id,
    }


def change_from(row: RowData) -> AssignmentChange:
    """The domain change for a changes-table row."""
    return AssignmentChange(
        contact_id=row["contact_id"],
        at=row["at"],
        from_agent_id=row["from_agent_id"],
        to_agent_id=row["to_agent_id"],
        source=ChangeSource(row["source"]),
        actor=row["actor"],
        reason=row["reason"],
        sync_state=SyncState(row["sync_state"]),
        conversation_id=row["conversation_id"],
        workflow_id=row["workflow_id"],
        run_id=row["run_id"],
        id=row["id"],
    )


def run_values(run: WorkflowRun) -> dict[str, Any]:
    """A runs-table row for `run` (without its id)."""
    return {
        "key": run.key,
        "workflow_id": run.workflow_id,
        "workflow_version": run.workflow_version,
        "contact_id": run.contact_id,
        "conversation_id": run.conversation_id,
        "started_at": run.started_at,
        "outcome": run.outcome.value,
        "reason": run.reason,
        "undone": run.undone,
    }


def run_from(row: RowData) -> WorkflowRun:
    """The domain run for a runs-table row."""
    return WorkflowRun(
        key=row["key"],
        workflow_id=row["workflow_id"],
        workflow_version=row["workflow_version"],
        contact_id=row["contact_id"],
        started_at=row["started_at"],
        outcome=RunOutcome(row["outcome"]),
        reason=row["reason"],
        conversation_id=row["conversation_id"],
        undone=bool(row["undone"]),
        id=row["id"],
    )


def command_values(command: OutboxCommand, now: float) -> dict[str, Any]:
    """An outbox row for `command` (without its id)."""
    return {
        "kind": command.kind.value,
        "contact_id": command.contact_id,
        "payload": json.dumps(dict(command.payload), sort_keys=True),
        "idempotency_key": command.idempotency_key,
        "state": command.state.value,
        "attempts": command.attempts,
        "next_attempt_at": command.next_attempt_at,
        "last_error": command.last_error,
        "created_at": command.created_at or now,
        "updated_at": now,
        "run_id": command.run_id,
        "change_id": command.change_id,
        "awaiting_echo": False,  # a command's POST is not sent yet
    }


def command_from(row: RowData) -> OutboxCommand:
    """The domain command for an outbox row."""
    return OutboxCommand(
        kind=CommandKind(row["kind"]),
        contact_id=row["contact_id"],
        idempotency_key=row["idempotency_key"],
        payload=json.loads(row["payload"] or "{}"),
        state=OutboxState(row["state"]),
        attempts=row["attempts"],
        next_attempt_at=row["next_attempt_at"],
        last_error=row["last_error"],
        created_at=row["created_at"],
        run_id=row["run_id"],
        change_id=row["change_id"],
        id=row["id"],
    )


def workflow_values(workflow: Workflow, now: float) -> dict[str, Any]:
    """A workflows-table row for `workflow` (without its id)."""
    return {
        "name": workflow.name,
        "template_id": workflow.template_id,
        "state": workflow.state.value,
        "version": workflow.version,
        "definition": json.dumps(definition_to_dict(workflow.trigger, workflow.steps, workflow.settings)),
        "created_at": workflow.created_at or now,
        "updated_at": now,
    }


def workflow_from(row: RowData) -> Workflow:
    """The domain workflow for a workflows-table row."""
    trigger, steps, settings = definition_from_dict(json.loads(row["definition"]))
    return Workflow(
        name=row["name"],
        trigger=trigger,
        steps=steps,
        settings=settings,
        state=WorkflowState(row["state"]),
        version=row["version"],
        template_id=row["template_id"],
        created_at=row["created_at"],
        updated_at=row["updated_at"],
        id=row["id"],
    )


SQLITE_INT_MIN = -(2**63)
SQLITE_INT_MAX = 2**63 - 1


def unstorable(value: object, where: str = "event") -> str | None:
    """Words for the first value in `value` (a dataclass, walked field by field) that SQLite cannot hold, or None.

    SQLite integers are 64-bit, floats must be finite, and text must encode as UTF-8 (no lone surrogates).
    """
    if isinstance(value, bool) or value is None:
        return None
    if isinstance(value, int):
        return None if SQLITE_INT_MIN <= value <= SQLITE_INT_MAX else f"{where} {value} is out of range"
    if isinstance(value, float):
        return None if math.isfinite(value) else f"{where} {value} is not a finite number"
    if isinstance(value, str):
        try:
            value.encode("utf-8")
        except UnicodeEncodeError:
            return f"{where} {value!r} is not valid text (it holds half of a surrogate pair)"
        return None
    if isinstance(value, tuple | list):
        return next((words for item in value if (words := unstorable(item, where)) is not None), None)
    if dataclasses.is_dataclass(value) and not isinstance(value, type):
        for field in dataclasses.fields(value):
            words = unstorable(getattr(value, field.name), field.name.replace("_", " "))
            if words is not None:
                return words
    return None


def storable_text(row: dict[str, Any]) -> dict[str, Any]:
    """`row` with any text SQLite cannot hold (a lone surrogate) repaired to U+FFFD, for a cached copy."""
    for name, value in row.items():
        if isinstance(value, str):
            try:
                value.encode("utf-8")
            except UnicodeEncodeError:
                row[name] = value.encode("utf-16", "surrogatepass").decode("utf-16", "replace")
    return row
