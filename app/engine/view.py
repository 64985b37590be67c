"""What the engine may read: a read-only view of the local cache, given to it by the caller."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Protocol

from app.domain.availability import AvailabilityBook
from app.domain.people import Agent
from app.domain.plan import Plan
from app.domain.workflows import RunOutcome


class CacheView(Protocol):
    """The facts the planner needs beyond the event itself.

    Implementations must not do I/O per call on a hot path; the sync service hands in a snapshot.
    """

    def agents(self) -> Sequence[Agent]:
        """Every known agent."""

    def open_load(self) -> Mapping[int, int]:
        """Open contacts per agent id."""

    def has_run(self, workflow_id: int, contact_id: int) -> bool:
        """Whether this workflow ran on this contact before."""

    def last_assigned(self, workflow_id: int) -> int | None:
        """The agent this workflow assigned most recently (for round-robin), or None."""

    def is_available(self, agent_id: int, at: float) -> bool:
        """Whether the lead has the agent marked available, within their working hours, at Unix time `at`."""


@dataclass
class SnapshotView:
    """A CacheView held in memory; the planner also updates it as it plans, so a batch sees its own effects."""

    agent_list: list[Agent] = field(default_factory=list)
    loads: dict[int, int] = field(default_factory=dict)
    ran: set[tuple[int, int]] = field(default_factory=set)
    last: dict[int, int] = field(default_factory=dict)
    availability: AvailabilityBook = field(default_factory=lambda: AvailabilityBook({}))

    def agents(self) -> Sequence[Agent]:
        """Every known agent."""
        return self.agent_list

    def open_load(self) -> Mapping[int, int]:
        """Open contacts per agent id."""
        return self.loads

    def has_run(self, workflow_id: int, contact_id: int) -> bool:
        """Whether this workflow ran on this contact before."""
        return (workflow_id, contact_id) in self.ran

    def last_assigned(self, workflow_id: int) -> int | None:
        """The agent this workflow assigned most recently."""
        return self.last.get(workflow_id)

    def is_available(self, agent_id: int, at: float) -> bool:
        """Whether the agent is available at `at`, by the book the lead keeps."""
        return self.availability.is_available(agent_id, at)

    def agent(self, agent_id: int) -> Agent | None:
        """One agent by id."""
        return next((a for a in self.agent_list if a.id == agent_id), None)

    def absorb(self, plan: Plan) -> None:
        """Take in what a plan will do, so the next event planned in the same batch sees it.

        An assignment adds to the agent's open load; an unassign follows a close, which already took
        the contact out of the open load, so it changes nothing there.
        """
        for planned in plan.runs:
            if planned.run.outcome is not RunOutcome.SKIPPED:
                self.ran.add((planned.run.workflow_id, planned.run.contact_id))
            for action in planned.actions:
                change = action.change
                if change is None:
                    continue
                if change.to_agent_id is not None:
                    self.loads[change.to_agent_id] = self.loads.get(change.to_agent_id, 0) + 1
                    self.last[planned.run.workflow_id] = change.to_agent_id
