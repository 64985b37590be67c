"""Dry run: what a workflow would have done over past closes. It writes nothing."""

from __future__ import annotations

from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass, replace

from app.domain.availability import AvailabilityBook
from app.domain.conversations import ClosedConversation, ConversationOpened, OpenedBySource
from app.domain.people import Agent
from app.domain.plan import Plan
from app.domain.workflows import RunOutcome, TriggerKind, Workflow, WorkflowState
from app.engine.planner import plan_run
from app.engine.view import SnapshotView

DRY_RUN_ID = 0


@dataclass(frozen=True, slots=True)
class DryRunRow:
    """What would have happened to one past close."""

    close: ClosedConversation
    outcome: RunOutcome
    reason: str


@dataclass(frozen=True, slots=True)
class DryRunReport:
    """Counts by outcome and every row, oldest first."""

    workflow_name: str
    rows: tuple[DryRunRow, ...]

    @property
    def counts(self) -> dict[RunOutcome, int]:
        """How many runs ended each way (every outcome listed, zeros included)."""
        found = Counter(row.outcome for row in self.rows)
        return {outcome: found.get(outcome, 0) for outcome in RunOutcome}

    def summary(self) -> str:
        """One sentence for people: `212 would be unassigned, 9 skipped, 0 failed, 0 waiting.`."""
        counts = self.counts
        done = counts[RunOutcome.DONE]
        return (
            f"{len(self.rows)} past closes: {done} would run, {counts[RunOutcome.SKIPPED]} skipped, "
            f"{counts[RunOutcome.FAILED]} failed, {counts[RunOutcome.WAITING]} waiting."
        )


def dry_run(
    workflow: Workflow,
    closes: Sequence[ClosedConversation],
    agents: Sequence[Agent],
    loads: dict[int, int],
    availability: AvailabilityBook | None = None,
) -> DryRunReport:
    """Replay `workflow` (draft or published) over `closes`, oldest first, as if it had been published then.

    A Conversation Opened workflow is replayed on the opens these closes record (their `openedTime`).
    Availability is today's, read at each close's time (its working hours then).
    """
    trial = replace(workflow, id=workflow.id or DRY_RUN_ID, state=WorkflowState.PUBLISHED)
    view = SnapshotView(agent_list=list(agents), loads=dict(loads), availability=availability or AvailabilityBook({}))
    rows: list[DryRunRow] = []
    for close in sorted(closes, key=lambda c: (c.closed_time, c.id or 0)):
        event: ClosedConversation | ConversationOpened
        if trial.trigger.kind is TriggerKind.CONVERSATION_CLOSED:
            event = close
        elif close.opened_time is not None:
            event = ConversationOpened(
                event_id=f"dry-open:{close.event_id}",
                contact=replace(close.contact, assignee=None),
                opened_time=close.opened_time,
                opened_by_source=close.opened_by_source or OpenedBySource.UNKNOWN,
            )
        else:
            continue
        planned, _ = plan_run(event, trial, view, float(close.closed_time))
        view.absorb(Plan(runs=(planned,)))
        rows.append(DryRunRow(close, planned.run.outcome, planned.run.reason))
    return DryRunReport(workflow.name, tuple(rows))
