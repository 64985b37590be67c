"""The cache view the planner reads, backed by the store and used on the writer thread."""

from __future__ import annotations

from collections.abc import Mapping, Sequence

from app.domain.people import Agent
from app.domain.plan import Plan
from app.engine.view import SnapshotView
from app.storage.store import Store


class StoreView:
    """Agents and loads from a snapshot refreshed per batch; run history and round-robin from the database.

    Only called on the writer thread, inside the batch that commits the plans, so what it reads is
    exactly what the batch builds on.
    """

    def __init__(self, store: Store) -> None:
        """Read agents and open loads once for this batch."""
        self._store = store
        self._snapshot = SnapshotView(agent_list=store.cache.agents(), loads=dict(store.cache.open_load()))

    def agents(self) -> Sequence[Agent]:
        """Every cached agent."""
        return self._snapshot.agents()

    def open_load(self) -> Mapping[int, int]:
        """Open contacts per agent, including what this batch planned so far."""
        return self._snapshot.open_load()

    def has_run(self, workflow_id: int, contact_id: int) -> bool:
        """Whether the workflow ran on the contact, in the database or earlier in this batch."""
        return self._snapshot.has_run(workflow_id, contact_id) or self._store.runs.has_run(workflow_id, contact_id)

    def last_assigned(self, workflow_id: int) -> int | None:
        """The agent the workflow assigned last, in this batch or in the history."""
        return self._snapshot.last_assigned(workflow_id) or self._store.history.last_assigned(workflow_id)

    def absorb(self, plan: Plan) -> None:
        """Let the rest of the batch see this plan's effects."""
        self._snapshot.absorb(plan)
