"""The assignment history: every change of a contact's assignee that Closeout made, undid or saw."""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum


class ChangeSource(StrEnum):
    """What made an assignment change."""

    WORKFLOW = "workflow"
    UNDO = "undo"
    PLATFORM = "platform"


class SyncState(StrEnum):
    """Where a change stands with the platform.

    SKIPPED means the drain found the platform had moved on (the contact was reassigned or reopened after
    the close) and left it alone rather than clobber a fresh assignment.
    """

    PENDING = "pending"
    SYNCED = "synced"
    FAILED = "failed"
    UNDONE = "undone"
    SKIPPED = "skipped"


@dataclass(frozen=True, slots=True)
class AssignmentChange:
    """One row of the history. Agent ids are platform user ids; None means unassigned.

    `at` is local Unix time in seconds. `conversation_id` is the stored close it belongs to, if any;
    `run_id` and `workflow_id` name the run that made it.
    """

    contact_id: int
    at: float
    from_agent_id: int | None
    to_agent_id: int | None
    source: ChangeSource
    actor: str
    reason: str
    sync_state: SyncState = SyncState.PENDING
    conversation_id: int | None = None
    workflow_id: int | None = None
    run_id: int | None = None
    id: int | None = None
