"""The live queue's rows: each close with the effective outcome of every run on it, and why."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from enum import StrEnum

from app.domain.conversations import ClosedConversation
from app.domain.history import AssignmentChange, SyncState
from app.domain.workflows import RunOutcome, WorkflowRun


class QueueStatus(StrEnum):
    """What happened to a closed conversation, as its queue row says it (the words are the values)."""

    PENDING = "pending"
    UNASSIGNED = "unassigned"
    ASSIGNED = "assigned"
    DONE = "done"
    SKIPPED = "skipped"
    FAILED = "failed"
    WAITING = "waiting"
    UNDONE = "undone"
    NO_WORKFLOW = "no workflow"


CHANGED = frozenset({QueueStatus.PENDING, QueueStatus.UNASSIGNED, QueueStatus.ASSIGNED})
"""The statuses of a close whose workflow changed the assignment (so there is something to undo)."""


@dataclass(frozen=True, slots=True)
class QueueRow:
    """One closed conversation in the live queue, with what happened to it and why.

    `status` is the close's *effective* outcome over every run on it (two workflows on one trigger make two
    runs, an undo a third): `run` is the run it comes from, the one that changed the assignment when one did,
    and so the one Undo reverses. `runs` holds every run, oldest first.
    """

    close: ClosedConversation
    run: WorkflowRun | None
    sync_state: SyncState | None
    status: QueueStatus
    reason: str
    runs: tuple[WorkflowRun, ...] = ()


UNDO_WORDS = {SyncState.PENDING: "undo queued", SyncState.SYNCED: "undo sent", SyncState.FAILED: "undo failed"}


def is_undo(run: WorkflowRun) -> bool:
    """Whether `run` is the reversal of another run."""
    return run.key.startswith("undo:")


def run_status(run: WorkflowRun | None, change: AssignmentChange | None) -> tuple[QueueStatus, str]:
    """The status and reason for one run and its history row."""
    if run is None:
        return QueueStatus.NO_WORKFLOW, "no published workflow ran on this close"
    if run.undone:
        return QueueStatus.UNDONE, run.reason
    if run.outcome is RunOutcome.DONE and change is not None:
        if change.sync_state is SyncState.PENDING:
            return QueueStatus.PENDING, run.reason
        if change.sync_state is SyncState.SYNCED:
            return (QueueStatus.UNASSIGNED if change.to_agent_id is None else QueueStatus.ASSIGNED), run.reason
    return QueueStatus(run.outcome.value), run.reason


def effective_run(runs: Sequence[WorkflowRun], changes: Mapping[int, AssignmentChange]) -> WorkflowRun | None:
    """The run that says what happened to the contact.

    The last one that changed its assignment, else the last workflow run; never an undo run, since the run it
    reversed shows "undone".
    """
    own = [run for run in runs if not is_undo(run)]
    changed = [run for run in own if run.id is not None and run.id in changes]
    if changed:
        return changed[-1]
    return own[-1] if own else (runs[-1] if runs else None)


def queue_row(
    close: ClosedConversation, runs: Sequence[WorkflowRun], changes: Mapping[int, AssignmentChange]
) -> QueueRow:
    """A close's queue row from every run on it and the first change of each."""
    run = effective_run(runs, changes)
    change = changes.get(run.id) if run is not None and run.id is not None else None
    status, reason = run_status(run, change)
    if status is QueueStatus.UNDONE and run is not None:
        undo = next((r for r in reversed(runs) if r.key == f"undo:{run.id}"), None)
        if undo is not None:
            undo_change = changes.get(undo.id) if undo.id is not None else None
            sent = undo_change.sync_state if undo_change is not None else SyncState.PENDING
            words = UNDO_WORDS.get(sent, f"undo {sent.value}")
            reason = f"{undo.reason.split(' (undo of run')[0]} ({words}, run {undo.id})"
    return QueueRow(close, run, change.sync_state if change else None, status, reason, tuple(runs))
