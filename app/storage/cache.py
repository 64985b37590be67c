"""The local copy of the platform's contacts and users, refreshed from the platform and by plans."""

from __future__ import annotations

import time
from collections.abc import Iterable

from sqlalchemy import func, select
from sqlalchemy.orm import Session, sessionmaker

from app.domain.people import Agent, Contact, ContactStatus
from app.storage import sql
from app.storage.models import AGENTS, CONTACTS
from app.storage.rows import agent_from, agent_values, contact_from, contact_values

LOOKUP_CHUNK = 500


class ContactCache:
    """Contacts and agents as last seen on the platform (or as a committed plan set them)."""

    def __init__(self, sessions: sessionmaker[Session]) -> None:
        """Work through `sessions`, one session per call."""
        self._sessions = sessions

    def upsert_contacts(self, contacts: Iterable[Contact]) -> int:
        """Store the platform's view of these contacts; returns how many were written."""
        now = time.time()
        rows = [contact_values(c, now) for c in contacts]
        with self._sessions.begin() as session:
            sql.upsert(session, CONTACTS.name, rows)
        return len(rows)

    def upsert_agents(self, agents: Iterable[Agent]) -> int:
        """Store the platform's users; returns how many were written."""
        now = time.time()
        rows = [agent_values(a, now) for a in agents]
        with self._sessions.begin() as session:
            sql.upsert(session, AGENTS.name, rows)
        return len(rows)

    def contact(self, contact_id: int) -> Contact | None:
        """The cached contact, or None."""
        with self._sessions() as session:
            row = session.execute(select(CONTACTS).where(CONTACTS.c.id == contact_id)).mappings().first()
        return contact_from(row) if row else None

    def contacts(self, ids: Iterable[int]) -> dict[int, Contact]:
        """The cached contacts among `ids`, by id."""
        wanted = list(set(ids))
        found: dict[int, Contact] = {}
        with self._sessions() as session:
            for start in range(0, len(wanted), LOOKUP_CHUNK):
                chunk = tuple(wanted[start : start + LOOKUP_CHUNK])
                statement = f"SELECT * FROM {CONTACTS.name} WHERE id IN ({sql.marks(len(chunk))})"
                for row in sql.execute(session, statement, chunk).mappings():
                    found[row["id"]] = contact_from(row)
        return found

    def agents(self) -> list[Agent]:
        """Every cached agent, by name."""
        with self._sessions() as session:
            rows = session.execute(select(AGENTS).order_by(AGENTS.c.first_name, AGENTS.c.last_name, AGENTS.c.id))
            return [agent_from(r) for r in rows.mappings()]

    def open_load(self) -> dict[int, int]:
        """How many open contacts each agent holds now, by agent id (the "open load" chart)."""
        statement = (
            select(CONTACTS.c.assignee_id, func.count())
            .where(CONTACTS.c.assignee_id.is_not(None), CONTACTS.c.status == ContactStatus.OPEN.value)
            .group_by(CONTACTS.c.assignee_id)
        )
        with self._sessions() as session:
            return {int(agent): int(count) for agent, count in session.execute(statement)}

    def contact_count(self) -> int:
        """How many contacts are cached."""
        with self._sessions() as session:
            return int(session.execute(select(func.count()).select_from(CONTACTS)).scalar_one())

    def find(self, text: str, limit: int = 20) -> list[Contact]:
        """Cached contacts whose name, phone or email contains `text` (any case), by name."""
        pattern = f"%{text.strip().lower()}%"
        c = CONTACTS.c
        statement = (
            select(CONTACTS)
            .where(
                func.lower(c.first_name + " " + c.last_name).like(pattern)
                | func.lower(func.coalesce(c.email, "")).like(pattern)
                | func.coalesce(c.phone, "").like(pattern)
            )
            .order_by(c.first_name, c.last_name, c.id)
            .limit(limit)
        )
        with self._sessions() as session:
            return [contact_from(row) for row in session.execute(statement).mappings()]
