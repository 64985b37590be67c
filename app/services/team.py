"""The team: the cached agents and the availability the lead keeps for them."""

from __future__ import annotations

import time
from dataclasses import dataclass, replace

from app.domain.availability import Availability, AvailabilityBook, Presence, WorkingHours
from app.domain.errors import ConfigError, NotFoundLocally
from app.domain.people import Agent
from app.events import ChangeSet, OpChanges
from app.services.core import Service, connected


@dataclass(frozen=True, slots=True)
class TeamMember:
    """An agent from the cache with the availability the lead keeps for them, and what it means right now."""

    agent: Agent
    availability: Availability
    set_by_lead: bool
    available_now: bool


class TeamService(Service):
    """What the Team page and `closeout-cli agents` read and set."""

    @connected
    async def team(self) -> list[TeamMember]:
        """Every cached agent with their availability, by name (the Team page and `closeout-cli agents`)."""
        agents = await self.agents()
        book = await self.availability_book()
        now = time.time()
        members = [
            TeamMember(a, book.of(a.id), a.id in book.entries, book.is_available(a.id, now)) for a in agents.values()
        ]
        return sorted(members, key=lambda m: (m.agent.name.lower(), m.agent.id))

    @property
    def hours_zone(self) -> str:
        """The zone working hours are read in, in words: the setting's, or this computer's when it names none."""
        store = self._core.store_if_open
        zone = store.availability.zone if store is not None else None
        return str(zone) if zone is not None else "this computer's time zone"

    @connected
    async def availability_book(self) -> AvailabilityBook:
        """The availability the lead keeps, as the engine reads it."""
        store = self._core.store
        return await store.db.read(store.availability.book)

    @connected
    async def find_agent(self, text: str) -> Agent:
        """The cached agent `text` names: an id, an email, or a full or first name that only one agent has."""
        agents = await self.agents()
        wanted = text.strip()
        if wanted.isdigit() and int(wanted) in agents:
            return agents[int(wanted)]
        lowered = wanted.lower()
        for matches in (
            [a for a in agents.values() if a.email.lower() == lowered],
            [a for a in agents.values() if a.name.lower() == lowered],
            [a for a in agents.values() if a.first_name.lower() == lowered],
        ):
            if len(matches) == 1:
                return matches[0]
            if len(matches) > 1:
                names = ", ".join(f"{a.name} ({a.id})" for a in matches[:5])
                raise ConfigError(f"{wanted[:60]!r} names more than one agent: {names}.", "Use the agent's id.")
        what = f"with id {wanted[:20]}" if wanted.isdigit() else f"called {wanted[:60]!r}"
        raise ConfigError(
            f"No agent {what} is in the cache." if wanted else "No agent was named.",
            "Use an id, email or name from `closeout-cli agents` (run `sync --once` first to fetch them).",
        )

    @connected
    async def set_presence(
        self, agent_id: int, presence: Presence, *, initiator: object | None = None
    ) -> OpChanges[Availability]:
        """Mark an agent available or away (their working hours stay)."""
        book = await self.availability_book()
        return await self._set_availability(replace(book.of(agent_id), presence=presence), initiator)

    @connected
    async def set_hours(
        self, agent_id: int, hours: WorkingHours | None, *, initiator: object | None = None
    ) -> OpChanges[Availability]:
        """Give an agent working hours (None: any time they are marked available)."""
        book = await self.availability_book()
        current = book.of(agent_id)
        if agent_id not in book.entries and hours is not None:
            # Hours alone mean "available in them"; clearing hours (an Enter in an empty cell) grants nothing.
            current = replace(current, presence=Presence.AVAILABLE)
        return await self._set_availability(replace(current, hours=hours), initiator)

    async def _set_availability(self, entry: Availability, initiator: object | None) -> OpChanges[Availability]:
        if entry.agent_id not in await self.agents():
            raise NotFoundLocally(f"Agent {entry.agent_id} is not in the cache.")
        store = self._core.store
        saved = await store.db.write(store.availability.set, entry)
        change = ChangeSet(agents_changed=True, initiator=initiator)
        self._core.bus.publish(change)
        if self._core.started:
            # Runs waiting for someone available get their chance now, not at the next retry.
            await self._core.sync.intake.resume_waiting()
        return OpChanges(saved, change)
