"""The cache view the planner reads, backed by the store and used on the writer thread."""

from __future__ import annotations

from collections.abc import Mapping, Sequence

from app.domain.availability import AvailabilityBook
from app.domain.people import Agent
from app.domain.plan import Plan
from app.engine.view import SnapshotView
from app.storage.store import Store


class StoreView:
    """Agents and loads from a snapshot taken once per batch; run history and round-robin from the database.

    Only called on the writer thread, inside the batch that commits the plans, so what it reads is
    exactly what the batch builds on. The agents and the open loads are read when a plan first asks
    for them: unassigning needs the agents' names, and only assigning needs the loads (a scan of the
    contacts), so a batch of closes does not pay for them.
    """

    def __init__(self, store: Store) -> None:
        """Nothing is read until a plan asks."""
        self._store = store
        self._snapshot = SnapshotView()
        self._agents_read = False
        self._loads_read = False
        self._availability: AvailabilityBook | None = None

    def agents(self) -> Sequence[Agent]:
        """Every cached agent."""
        if not self._agents_read:
            self._snapshot.agent_list = self._store.cache.agents()
            self._agents_read = True
        return self._snapshot.agents()

    def open_load(self) -> Mapping[int, int]:
        """Open contacts per agent, including what this batch planned so far."""
        if not self._loads_read:
            planned = self._snapshot.loads  # what this batch added before anyone asked
            loads = dict(self._store.cache.open_load())
            for agent_id, added in planned.items():
                loads[agent_id] = loads.get(agent_id, 0) + added
            self._snapshot.loads = loads
            self._loads_read = True
        return self._snapshot.open_load()

    def has_run(self, workflow_id: int, contact_id: int) -> bool:
        """Whether the workflow ran on the contact, in the database or earlier in this batch."""
        return self._snapshot.has_run(workflow_id, contact_id) or self._store.runs.has_run(workflow_id, contact_id)

    def last_assigned(self, workflow_id: int) -> int | None:
        """The agent the workflow assigned last, in this batch or in the history."""
        return self._snapshot.last_assigned(workflow_id) or self._store.history.last_assigned(workflow_id)

    def is_available(self, agent_id: int, at: float) -> bool:
        """Whether the lead has the agent available at `at`; the book is read once per batch, when first asked."""
        if self._availability is None:
            self._availability = self._store.availability.book()
        return self._availability.is_available(agent_id, at)

    def absorb(self, plan: Plan) -> None:
        """Let the rest of the batch see this plan's effects."""
        self._snapshot.absorb(plan)
