"""Closed conversations: the live queue and the past that dry runs replay."""

from __future__ import annotations

from typing import Any

from sqlalchemy import CursorResult, and_, func, select, update
from sqlalchemy.orm import Session, sessionmaker

from app.domain.conversations import ClosedConversation
from app.domain.errors import NotFoundLocally
from app.domain.workflows import WorkflowRun
from app.storage.models import CLOSES, RUNS
from app.storage.rows import close_from, run_from


class CloseRepository:
    """Reads of the closes table; closes are written only as part of a plan (storage.plans)."""

    def __init__(self, sessions: sessionmaker[Session]) -> None:
        """Work through `sessions`, one session per call."""
        self._sessions = sessions

    def newest(self, limit: int = 200, before_id: int | None = None) -> list[ClosedConversation]:
        """The most recently recorded closes, newest first."""
        statement = select(CLOSES).order_by(CLOSES.c.id.desc()).limit(limit)
        if before_id is not None:
            statement = statement.where(CLOSES.c.id < before_id)
        with self._sessions() as session:
            return [close_from(r) for r in session.execute(statement).mappings()]

    def by_ids(self, ids: list[int]) -> list[ClosedConversation]:
        """These closes, newest first."""
        if not ids:
            return []
        statement = select(CLOSES).where(CLOSES.c.id.in_(ids)).order_by(CLOSES.c.id.desc())
        with self._sessions() as session:
            return [close_from(r) for r in session.execute(statement).mappings()]

    def last_closed_times(self, contact_ids: list[int]) -> dict[int, int]:
        """When each of these contacts' newest recorded close happened, by contact id (those with one)."""
        if not contact_ids:
            return {}
        statement = (
            select(CLOSES.c.contact_id, func.max(CLOSES.c.closed_time))
            .where(CLOSES.c.contact_id.in_(contact_ids))
            .group_by(CLOSES.c.contact_id)
        )
        with self._sessions() as session:
            return {int(contact_id): int(closed) for contact_id, closed in session.execute(statement)}

    def without_channel(self, after_id: int, limit: int = 20) -> list[ClosedConversation]:
        """Closes after `after_id` whose channel is not known yet (never looked up), oldest first."""
        statement = (
            select(CLOSES).where(CLOSES.c.id > after_id, CLOSES.c.channel.is_(None)).order_by(CLOSES.c.id).limit(limit)
        )
        with self._sessions() as session:
            return [close_from(r) for r in session.execute(statement).mappings()]

    def set_channel(self, close_id: int, channel: str) -> bool:
        """Record the channel a close happened on ("" when none could be found), unless one is known already."""
        statement = update(CLOSES).where(CLOSES.c.id == close_id, CLOSES.c.channel.is_(None)).values(channel=channel)
        with self._sessions.begin() as session:
            result: CursorResult[Any] = session.execute(statement)  # type: ignore[assignment]
            return bool(result.rowcount)

    def last_id(self) -> int:
        """The newest close's id (0 with none)."""
        with self._sessions() as session:
            return int(session.execute(select(func.coalesce(func.max(CLOSES.c.id), 0))).scalar_one())

    def of_contacts(self, contact_ids: list[int], limit: int = 200) -> list[ClosedConversation]:
        """The latest closes of these contacts, newest first (each read from the (contact, closed time) index)."""
        if not contact_ids:
            return []
        statement = (
            select(CLOSES)
            .where(CLOSES.c.contact_id.in_(contact_ids))
            .order_by(CLOSES.c.closed_time.desc(), CLOSES.c.id.desc())
            .limit(limit)
        )
        with self._sessions() as session:
            return [close_from(r) for r in session.execute(statement).mappings()]

    def runs_of(self, close_ids: list[int]) -> dict[int, list[WorkflowRun]]:
        """Every run on each of these closes (every workflow's, and undo runs), oldest first, by close id."""
        found: dict[int, list[WorkflowRun]] = {close_id: [] for close_id in close_ids}
        if not close_ids:
            return found
        statement = select(RUNS).where(RUNS.c.conversation_id.in_(close_ids)).order_by(RUNS.c.id)
        with self._sessions() as session:
            for row in session.execute(statement).mappings():
                found[row["conversation_id"]].append(run_from(row))
        return found

    def get(self, close_id: int) -> ClosedConversation:
        """One close, or NotFoundLocally."""
        found = self.by_ids([close_id])
        if not found:
            raise NotFoundLocally(f"There is no closed conversation {close_id}.")
        return found[0]

    def between(self, since: int, until: int) -> list[ClosedConversation]:
        """Closes whose platform close time is in [since, until), oldest first (for dry runs)."""
        statement = (
            select(CLOSES)
            .where(and_(CLOSES.c.closed_time >= since, CLOSES.c.closed_time < until))
            .order_by(CLOSES.c.closed_time, CLOSES.c.id)
        )
        with self._sessions() as session:
            return [close_from(r) for r in session.execute(statement).mappings()]

    def count(self) -> int:
        """How many closes are recorded."""
        with self._sessions() as session:
            return int(session.execute(select(func.count()).select_from(CLOSES)).scalar_one())
