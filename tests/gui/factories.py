"""Domain objects for GUI model tests."""

from __future__ import annotations

from app.domain.conversations import ClosedBySource, ClosedConversation
from app.domain.history import AssignmentChange, ChangeSource, SyncState
from app.domain.people import Contact, UserRef
from app.domain.queue import QueueRow, QueueStatus
from app.domain.workflows import RunOutcome, WorkflowRun

NOW = 1_790_000_000


def close(close_id: int, *, category: str | None = "Resolved", agent: int | None = 7) -> ClosedConversation:
    assignee = UserRef(agent, "Maya", "Park") if agent is not None else None
    return ClosedConversation(
        event_id=f"e{close_id}",
        contact=Contact(100 + close_id, f"Contact{close_id}", "Lee", assignee=assignee),
        closed_time=NOW + close_id,
        closed_by_source=ClosedBySource.USER,
        closed_by=assignee,
        category=category,
        assignee_at_close=assignee,
        channel="WhatsApp",
        id=close_id,
    )


def run(
    run_id: int, close_id: int, outcome: RunOutcome = RunOutcome.DONE, reason: str = "unassigned Maya"
) -> WorkflowRun:
    return WorkflowRun(
        key=f"1:{run_id}",
        workflow_id=1,
        workflow_version=1,
        contact_id=100 + close_id,
        started_at=NOW + close_id,
        outcome=outcome,
        reason=reason,
        conversation_id=close_id,
        id=run_id,
    )


def queue_row(close_id: int, status: str = "pending") -> QueueRow:
    outcome = {"skipped": RunOutcome.SKIPPED, "failed": RunOutcome.FAILED}.get(status, RunOutcome.DONE)
    return QueueRow(
        close(close_id), run(close_id, close_id, outcome), SyncState.PENDING, QueueStatus(status), f"{status} reason"
    )


def change(change_id: int, *, at: float | None = None, state: SyncState = SyncState.SYNCED) -> AssignmentChange:
    return AssignmentChange(
        contact_id=100 + change_id,
        at=at if at is not None else NOW - change_id,
        from_agent_id=7,
        to_agent_id=None,
        source=ChangeSource.WORKFLOW,
        actor="Unassign on close",
        reason="unassigned Maya Park",
        sync_state=state,
        workflow_id=1,
        run_id=change_id,
        id=change_id,
    )
