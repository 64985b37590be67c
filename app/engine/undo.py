"""Undo: put back the assignee a run took away (or remove the one it gave), through the outbox."""

from __future__ import annotations

from collections.abc import Mapping, Sequence

from app.domain.errors import WorkflowError
from app.domain.history import AssignmentChange, ChangeSource, SyncState
from app.domain.outbox import CommandKind, OutboxCommand
from app.domain.people import UserRef
from app.domain.plan import AssigneeUpdate, Plan, PlannedAction, PlannedRun
from app.domain.workflows import RunOutcome, WorkflowRun

UNDOABLE = (SyncState.PENDING, SyncState.SYNCED)


def plan_undo(run: WorkflowRun, changes: Sequence[AssignmentChange], agents: Mapping[int, UserRef], now: float) -> Plan:
    """The plan that reverses `run`'s changes, newest first; WorkflowError when there is nothing to undo.

    Each reversal is verified by the drain: if the contact's assignee is no longer what the run left,
    someone has acted since, and the undo leaves it alone.
    """
    if run.undone:
        raise WorkflowError(f"Run {run.id} was already undone.")
    reversible = [c for c in changes if c.sync_state in UNDOABLE]
    if not reversible:
        raise WorkflowError(
            f"Run {run.id} changed nothing on the platform, so there is nothing to undo.",
            "Only runs that assigned or unassigned someone can be undone.",
        )

    def named(agent_id: int | None) -> str:
        if agent_id is None:
            return "nobody"
        ref = agents.get(agent_id)
        return ref.name if ref else f"user {agent_id}"

    actions: list[PlannedAction] = []
    updates: list[AssigneeUpdate] = []
    words: list[str] = []
    for change in reversed(reversible):
        target = change.from_agent_id
        reason = f"reassigned {named(target)}" if target is not None else f"unassigned {named(change.to_agent_id)}"
        words.append(reason)
        reverse = AssignmentChange(
            contact_id=change.contact_id,
            at=now,
            from_agent_id=change.to_agent_id,
            to_agent_id=target,
            source=ChangeSource.UNDO,
            actor="Undo",
            reason=f"{reason} (undo of run {run.id})",
            sync_state=SyncState.PENDING,
            conversation_id=change.conversation_id,
            workflow_id=change.workflow_id,
        )
        command = OutboxCommand(
            kind=CommandKind.ASSIGN if target is not None else CommandKind.UNASSIGN,
            contact_id=change.contact_id,
            idempotency_key=f"undo:{run.id}:{change.id}",
            payload={"assignee": target, "expected_assignee": change.to_agent_id, "verify": True},
            created_at=now,
        )
        actions.append(PlannedAction(reverse, command))
        updates.append(AssigneeUpdate(change.contact_id, agents.get(target) if target is not None else None))
    undo_run = WorkflowRun(
        key=f"undo:{run.id}",
        workflow_id=run.workflow_id,
        workflow_version=run.workflow_version,
        contact_id=run.contact_id,
        started_at=now,
        outcome=RunOutcome.DONE,
        reason=f"{'; '.join(words)} (undo of run {run.id})",
        conversation_id=run.conversation_id,
    )
    return Plan(runs=(PlannedRun(undo_run, tuple(actions)),), cache_updates=tuple(updates), undo_of=run.id)
