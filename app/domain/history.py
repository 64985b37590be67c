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


@dataclass(frozen=True, slots=True)
class HistoryFilter:
    """Which changes to show. `since` is inclusive and `until` exclusive (local Unix seconds).

    `agent_id` matches a change from or to that agent, `agent_ids` one from or to any of them (a team's
    members); `contact_ids` and `conversation_ids` match any of theirs (what a name, phone or email found).
    An empty tuple matches nothing; None does not filter. `sync_state` is the change's outcome.
    """

    since: float | None = None
    until: float | None = None
    agent_id: int | None = None
    source: ChangeSource | None = None
    workflow_id: int | None = None
    contact_id: int | None = None
    conversation_id: int | None = None
    sync_state: SyncState | None = None
    agent_ids: tuple[int, ...] | None = None
    contact_ids: tuple[int, ...] | None = None
    conversation_ids: tuple[int, ...] | None = None


@dataclass(frozen=True, slots=True, order=True)
class Cursor:
    """Where a page ended: the last row's (at, id)."""

    at: float
    id: int


@dataclass(frozen=True, slots=True)
class HistoryPage:
    """One page of changes, newest first, and the cursor for the next page (None on the last one)."""

    rows: tuple[AssignmentChange, ...]
    next: Cursor | None
