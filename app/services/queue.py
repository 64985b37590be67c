"""The live queue and the run log: closes with their outcome, runs, a run's detail, and undo."""

from __future__ import annotations

import dataclasses
import time
from collections.abc import Mapping, Sequence
from dataclasses import dataclass

from app.domain.conversations import ClosedConversation
from app.domain.errors import NotFoundLocally, WorkflowError
from app.domain.history import AssignmentChange
from app.domain.queue import QueueRow, queue_row
from app.domain.workflows import RunOutcome, Workflow, WorkflowRun
from app.engine.undo import plan_undo
from app.events import OpChanges
from app.services.core import Service, connected


@dataclass(frozen=True, slots=True)
class RunDetail:
    """A run with the close it ran on and the changes it made."""

    run: WorkflowRun
    close: ClosedConversation | None
    changes: tuple[AssignmentChange, ...]
    workflow: Workflow | None
    close_runs: tuple[WorkflowRun, ...] = ()
    """Every run on the same close (this one included), oldest first."""
    workflow_names: Mapping[int, str] = dataclasses.field(default_factory=dict)
    """The name of each workflow among `close_runs`, by id."""


class QueueService(Service):
    """What the live queue and the run log read, and the undo they offer."""

    @connected
    async def queue(self, limit: int = 200, before_id: int | None = None) -> list[QueueRow]:
        """Closed conversations, newest first, each with its latest run and outcome."""
        return await self._core.store.db.read(self._queue, limit, before_id, None)

    @connected
    async def queue_rows(self, close_ids: Sequence[int]) -> list[QueueRow]:
        """The queue rows of these closes (to refresh the rows a change-set names)."""
        return await self._core.store.db.read(self._queue, len(close_ids), None, list(close_ids))

    def _queue(self, limit: int, before_id: int | None, ids: list[int] | None) -> list[QueueRow]:
        store = self._core.store
        closes = store.closes.by_ids(ids) if ids is not None else store.closes.newest(limit, before_id)
        runs = store.closes.runs_of([c.id for c in closes if c.id is not None])
        changes = store.history.first_for_runs([r.id for rs in runs.values() for r in rs if r.id is not None])
        return [queue_row(close, runs.get(close.id, []) if close.id is not None else [], changes) for close in closes]

    @connected
    async def close_count(self) -> int:
        """How many closes the database holds."""
        store = self._core.store
        return await store.db.read(store.closes.count)

    @connected
    async def runs(
        self,
        workflow_id: int | None = None,
        outcome: RunOutcome | None = None,
        before_id: int | None = None,
        limit: int = 200,
    ) -> list[WorkflowRun]:
        """The run log, newest first."""
        store = self._core.store
        return await store.db.read(store.runs.page, workflow_id, outcome, before_id, limit)

    @connected
    async def run_detail(self, run_id: int) -> RunDetail:
        """A run, its close, its changes and its workflow."""
        store = self._core.store

        def load() -> RunDetail:
            run = store.runs.get(run_id)
            close = store.closes.get(run.conversation_id) if run.conversation_id is not None else None
            close_runs = store.closes.runs_of([close.id])[close.id] if close and close.id is not None else [run]
            names: dict[int, str] = {}
            workflow = None
            for workflow_id in {r.workflow_id for r in close_runs} | {run.workflow_id}:
                try:
                    found = store.workflows.get(workflow_id)
                except NotFoundLocally:
                    continue
                names[workflow_id] = found.name
                if workflow_id == run.workflow_id:
                    workflow = found
            changes = tuple(store.history.for_run(run_id))
            return RunDetail(run, close, changes, workflow, tuple(close_runs), names)

        return await store.db.read(load)

    @connected
    async def undo(self, run_id: int, *, initiator: object | None = None) -> OpChanges[WorkflowRun]:
        """Reverse a run through the outbox; the result is the undo run. WorkflowError says why it cannot be undone."""
        detail = await self.run_detail(run_id)
        if detail.run.key.startswith("undo:"):
            raise WorkflowError("This run is itself an undo; undo the original run's undo is not offered.")
        refs = {agent_id: agent.ref for agent_id, agent in (await self.agents()).items()}
        plan = plan_undo(detail.run, detail.changes, refs, time.time())
        result, change = await self._core.sync.intake.commit_plan(plan, initiator=initiator)
        if not result.runs:
            raise WorkflowError(f"Run {run_id} was already undone.")
        store = self._core.store
        return OpChanges(await store.db.read(store.runs.get, result.runs[0]), change)
