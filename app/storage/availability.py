"""The availability the lead keeps per agent, and the zone their working hours are read in."""

from __future__ import annotations

import datetime as dt
import logging
import time

from sqlalchemy import select
from sqlalchemy.orm import Session, sessionmaker

from app.domain.availability import Availability, AvailabilityBook, Presence, WorkingHours
from app.domain.errors import ConfigError
from app.storage import sql
from app.storage.models import AVAILABILITY

log = logging.getLogger("closeout.storage")


class AvailabilityRepository:
    """One row per agent the lead has set; an agent without one is away.

    `zone` is the lead's time zone for working hours (None: this computer's); whoever opens the store sets
    it from the settings, and every book this repository hands out carries it.
    """

    def __init__(self, sessions: sessionmaker[Session]) -> None:
        """Work through `sessions`, one session per call."""
        self._sessions = sessions
        self.zone: dt.tzinfo | None = None

    def book(self) -> AvailabilityBook:
        """Every agent's availability, as the planner reads it."""
        with self._sessions() as session:
            rows = session.execute(select(AVAILABILITY)).mappings().all()
        entries: dict[int, Availability] = {}
        for row in rows:
            try:
                hours = WorkingHours.parse(row["hours"]) if row["hours"] else None
                entries[row["agent_id"]] = Availability(row["agent_id"], Presence(row["presence"]), hours)
            except (ConfigError, ValueError):
                log.warning("ignoring unreadable availability for agent %s", row["agent_id"])
        return AvailabilityBook(entries, self.zone)

    def set(self, entry: Availability) -> Availability:
        """Store one agent's availability (replacing what was there); returns it."""
        row = {
            "agent_id": entry.agent_id,
            "presence": entry.presence.value,
            "hours": entry.hours.describe() if entry.hours else None,
            "updated_at": time.time(),
        }
        with self._sessions.begin() as session:
            sql.upsert(session, AVAILABILITY, [row], "agent_id")
        return entry
