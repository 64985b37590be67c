"""Workflows and their runs."""

from __future__ import annotations

import time
from dataclasses import dataclass, replace

from sqlalchemy import and_, func, insert, select, update
from sqlalchemy.orm import Session, sessionmaker

from app.domain.errors import NotFoundLocally
from app.domain.workflows import RunOutcome, Workflow, WorkflowRun, WorkflowState
from app.storage.models import RUNS, WORKFLOWS
from app.storage.rows import run_from, workflow_from, workflow_values


@dataclass(frozen=True, slots=True)
class WorkflowStats:
    """What "My workflows" shows beside each workflow."""

    runs_today: int
    last_outcome: RunOutcome | None
    last_reason: str | None


class WorkflowRepository:
    """Workflows, stored with their definition as JSON."""

    def __init__(self, sessions: sessionmaker[Session]) -> None:
        """Work through `sessions`, one session per call."""
        self._sessions = sessions

    def save(self, workflow: Workflow) -> Workflow:
        """Insert a new workflow or overwrite an existing one; returns it with its id and times."""
        now = time.time()
        values = workflow_values(workflow, now)
        with self._sessions.begin() as session:
            if workflow.id is None:
                new_id = session.execute(insert(WORKFLOWS).values(values).returning(WORKFLOWS.c.id)).scalar_one()
                return replace(workflow, id=int(new_id), created_at=values["created_at"], updated_at=now)
            statement = update(WORKFLOWS).where(WORKFLOWS.c.id == workflow.id).values(values).returning(WORKFLOWS.c.id)
            if session.execute(statement).first() is None:
                raise NotFoundLocally(f"There is no workflow {workflow.id}.")
        return replace(workflow, updated_at=now)

    def get(self, workflow_id: int) -> Workflow:
        """One workflow, or NotFoundLocally."""
        with self._sessions() as session:
            row = session.execute(select(WORKFLOWS).where(WORKFLOWS.c.id == workflow_id)).mappings().first()
        if row is None:
            raise NotFoundLocally(f"There is no workflow {workflow_id}.")
        return workflow_from(row)

    def all(self, state: WorkflowState | None = None) -> list[Workflow]:
        """Every workflow (or those in `state`), oldest first."""
        statement = select(WORKFLOWS).order_by(WORKFLOWS.c.id)
        if state is not None:
            statement = statement.where(WORKFLOWS.c.state == state.value)
        with self._sessions() as session:
            return [workflow_from(r) for r in session.execute(statement).mappings()]

    def published_stamp(self) -> tuple[int, float]:
        """What changes whenever any process publishes, stops or edits a workflow: (published count, last save)."""
        published = func.count().filter(WORKFLOWS.c.state == WorkflowState.PUBLISHED.value)
        with self._sessions() as session:
            count, last = session.execute(select(published, func.max(WORKFLOWS.c.updated_at))).one()
        return int(count), float(last or 0.0)

    def stats(self, since: float) -> dict[int, WorkflowStats]:
        """Runs since `since` and the last run's outcome, per workflow id."""
        counts = select(RUNS.c.workflow_id, func.count()).where(RUNS.c.started_at >= since).group_by(RUNS.c.workflow_id)
        last_ids = select(func.max(RUNS.c.id)).group_by(RUNS.c.workflow_id)
        last = select(RUNS.c.workflow_id, RUNS.c.outcome, RUNS.c.reason).where(RUNS.c.id.in_(last_ids))
        with self._sessions() as session:
            today = {int(w): int(n) for w, n in session.execute(counts)}
            result: dict[int, WorkflowStats] = {}
            for workflow_id, outcome, reason in session.execute(last):
                result[int(workflow_id)] = WorkflowStats(today.get(int(workflow_id), 0), RunOutcome(outcome), reason)
        return result


class RunRepository:
    """The run log."""

    def __init__(self, sessions: sessionmaker[Session]) -> None:
        """Work through `sessions`, one session per call."""
        self._sessions = sessions

    def get(self, run_id: int) -> WorkflowRun:
        """One run, or NotFoundLocally."""
        with self._sessions() as session:
            row = session.execute(select(RUNS).where(RUNS.c.id == run_id)).mappings().first()
        if row is None:
            raise NotFoundLocally(f"There is no run {run_id}.")
        return run_from(row)

    def page(
        self,
        workflow_id: int | None = None,
        outcome: RunOutcome | None = None,
        before_id: int | None = None,
        limit: int = 200,
    ) -> list[WorkflowRun]:
        """Runs newest first, optionally of one workflow and one outcome, with ids below `before_id`."""
        where = []
        if workflow_id is not None:
            where.append(RUNS.c.workflow_id == workflow_id)
        if outcome is not None:
            where.append(RUNS.c.outcome == outcome.value)
        if before_id is not None:
            where.append(RUNS.c.id < before_id)
        statement = select(RUNS).where(and_(True, *where)).order_by(RUNS.c.id.desc()).limit(limit)
        with self._sessions() as session:
            return [run_from(r) for r in session.execute(statement).mappings()]

    def of_conversation(self, conversation_id: int) -> list[WorkflowRun]:
        """Every run on one stored close, oldest first."""
        statement = select(RUNS).where(RUNS.c.conversation_id == conversation_id).order_by(RUNS.c.id)
        with self._sessions() as session:
            return [run_from(r) for r in session.execute(statement).mappings()]

    def oldest(self, outcome: RunOutcome, after_id: int = 0, limit: int = 500) -> list[WorkflowRun]:
        """Runs with `outcome`, oldest first, with ids above `after_id` (to page through all of them)."""
        statement = (
            select(RUNS).where(RUNS.c.outcome == outcome.value, RUNS.c.id > after_id).order_by(RUNS.c.id).limit(limit)
        )
        with self._sessions() as session:
            return [run_from(r) for r in session.execute(statement).mappings()]

    def has_run(self, workflow_id: int, contact_id: int) -> bool:
        """True when this workflow has been through this contact before ("Trigger once per contact").

        A run skipped at the trigger (a condition not met) does not count: the contact never entered.
        """
        statement = select(RUNS.c.id).where(
            RUNS.c.workflow_id == workflow_id,
            RUNS.c.contact_id == contact_id,
            RUNS.c.outcome != RunOutcome.SKIPPED.value,
        )
        with self._sessions() as session:
            return session.execute(statement.limit(1)).first() is not None
