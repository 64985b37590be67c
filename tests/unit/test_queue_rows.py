"""A close's queue row says what happened to the contact over every run on it, not what its last run did."""

from __future__ import annotations

from app.domain.conversations import ClosedBySource, ClosedConversation
from app.domain.history import AssignmentChange, ChangeSource, SyncState
from app.domain.people import Contact
from app.domain.queue import queue_row
from app.domain.workflows import RunOutcome, WorkflowRun

CLOSE = ClosedConversation("evt-1", Contact(7, "Lucía Pérez"), 1_700_000_000, ClosedBySource.USER, id=3)


def run(run_id: int, workflow_id: int, outcome: RunOutcome, reason: str, key: str = "", undone: bool = False):
    return WorkflowRun(
        key or f"w{workflow_id}:evt-1", workflow_id, 1, 7, 1.0 + run_id, outcome, reason, 3, undone, run_id
    )


def change(run_id: int, to: int | None, state: SyncState, source: ChangeSource = ChangeSource.WORKFLOW):
    return AssignmentChange(7, 2.0, 5 if to is None else None, to, source, "x", "r", state, 3, 1, run_id, run_id)


def test_a_second_workflow_skipping_does_not_hide_the_first_ones_unassign() -> None:
    first = run(10, 1, RunOutcome.DONE, "unassigned agent Priya")
    second = run(11, 2, RunOutcome.SKIPPED, 'skipped: already unassigned by "Unassign" (run 10)')
    row = queue_row(CLOSE, [first, second], {10: change(10, None, SyncState.SYNCED)})
    assert row.status == "unassigned"
    assert row.run == first
    assert row.runs == (first, second)


def test_after_an_undo_the_row_says_undone_with_the_undo_run() -> None:
    first = run(10, 1, RunOutcome.DONE, "unassigned agent Priya", undone=True)
    second = run(11, 2, RunOutcome.SKIPPED, "skipped: contact already unassigned")
    undo = run(12, 1, RunOutcome.DONE, "reassigned Priya (undo of run 10)", key="undo:10")
    changes = {10: change(10, None, SyncState.UNDONE), 12: change(12, 5, SyncState.PENDING, ChangeSource.UNDO)}
    row = queue_row(CLOSE, [first, second, undo], changes)
    assert row.status == "undone"
    assert row.run == first
    assert row.reason == "reassigned Priya (undo queued, run 12)"


def test_no_change_anywhere_shows_the_last_workflow_run() -> None:
    first = run(10, 1, RunOutcome.SKIPPED, 'skipped: condition "closed by source is User" not met')
    row = queue_row(CLOSE, [first], {})
    assert (row.status, row.run) == ("skipped", first)
    assert queue_row(CLOSE, [], {}).status == "no workflow"
