"""The assignment history: filtered, keyset-paged queries, counts and chart aggregates.

Pages are newest first by (at, id), and the next page starts strictly after the last row's (at, id):
never OFFSET, so page 500 costs what page 1 costs. Every filter has an index that starts with its column.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence

from sqlalchemy import ColumnElement, Select, and_, cast, func, insert, or_, select, tuple_
from sqlalchemy import Integer as SqlInteger
from sqlalchemy.orm import Session, sessionmaker

from app.domain.history import AssignmentChange, Cursor, HistoryFilter, HistoryPage
from app.storage.models import CHANGES
from app.storage.rows import change_from, change_values

INSERT_CHUNK = 5000
DAY = 86_400


def conditions(flt: HistoryFilter) -> list[ColumnElement[bool]]:
    """The WHERE clauses for a filter."""
    c = CHANGES.c
    where: list[ColumnElement[bool]] = []
    if flt.since is not None:
        where.append(c.at >= flt.since)
    if flt.until is not None:
        where.append(c.at < flt.until)
    if flt.agent_id is not None:
        where.append(or_(c.from_agent_id == flt.agent_id, c.to_agent_id == flt.agent_id))
    if flt.source is not None:
        where.append(c.source == flt.source.value)
    if flt.workflow_id is not None:
        where.append(c.workflow_id == flt.workflow_id)
    if flt.contact_id is not None:
        where.append(c.contact_id == flt.contact_id)
    if flt.conversation_id is not None:
        where.append(c.conversation_id == flt.conversation_id)
    if flt.sync_state is not None:
        where.append(c.sync_state == flt.sync_state.value)
    return where


def newest_first(flt: HistoryFilter, after: Cursor | None = None) -> Select[tuple[object, ...]]:
    """The SELECT of all columns for `flt`, newest first, starting after `after`."""
    where = conditions(flt)
    if after is not None:
        where.append(tuple_(CHANGES.c.at, CHANGES.c.id) < tuple_(after.at, after.id))
    return select(CHANGES).where(and_(True, *where)).order_by(CHANGES.c.at.desc(), CHANGES.c.id.desc())


class HistoryRepository:
    """Reads and bulk writes of the history table."""

    def __init__(self, sessions: sessionmaker[Session]) -> None:
        """Work through `sessions`, one session per call."""
        self._sessions = sessions

    def page(self, flt: HistoryFilter, after: Cursor | None = None, limit: int = 200) -> HistoryPage:
        """Up to `limit` changes matching `flt`, newest first, after `after`."""
        with self._sessions() as session:
            rows = [change_from(r) for r in session.execute(newest_first(flt, after).limit(limit + 1)).mappings()]
        more = len(rows) > limit
        rows = rows[:limit]
        last = rows[-1] if more and rows else None
        return HistoryPage(tuple(rows), Cursor(last.at, last.id) if last and last.id is not None else None)

    def count(self, flt: HistoryFilter) -> int:
        """How many changes match `flt`."""
        statement = select(func.count()).select_from(CHANGES).where(and_(True, *conditions(flt)))
        with self._sessions() as session:
            return int(session.execute(statement).scalar_one())

    def per_day_by_source(self, flt: HistoryFilter, utc_offset: int = 0) -> list[tuple[int, str, int]]:
        """Changes per local day and source: (day start as Unix seconds, source, count), oldest day first.

        `utc_offset` is the local zone's offset in seconds, so days break at local midnight.
        """
        day = cast((CHANGES.c.at + utc_offset) / DAY, SqlInteger)
        statement = (
            select(day.label("day"), CHANGES.c.source, func.count())
            .where(and_(True, *conditions(flt)))
            .group_by("day", CHANGES.c.source)
            .order_by("day", CHANGES.c.source)
        )
        with self._sessions() as session:
            return [(int(d) * DAY - utc_offset, str(s), int(n)) for d, s, n in session.execute(statement)]

    def per_agent(self, flt: HistoryFilter) -> list[tuple[int, int]]:
        """Unassignments per agent (changes away from them): (agent id, count), busiest first."""
        statement = (
            select(CHANGES.c.from_agent_id, func.count().label("n"))
            .where(and_(CHANGES.c.from_agent_id.is_not(None), *conditions(flt)))
            .group_by(CHANGES.c.from_agent_id)
            .order_by(func.count().desc())
        )
        with self._sessions() as session:
            return [(int(a), int(n)) for a, n in session.execute(statement)]

    def last_assigned(self, workflow_id: int) -> int | None:
        """The agent this workflow assigned most recently (round-robin continues after them)."""
        statement = (
            select(CHANGES.c.to_agent_id)
            .where(CHANGES.c.workflow_id == workflow_id, CHANGES.c.to_agent_id.is_not(None))
            .order_by(CHANGES.c.at.desc(), CHANGES.c.id.desc())
            .limit(1)
        )
        with self._sessions() as session:
            value = session.execute(statement).scalar_one_or_none()
        return None if value is None else int(value)

    def for_run(self, run_id: int) -> list[AssignmentChange]:
        """The changes a run made, oldest first."""
        statement = select(CHANGES).where(CHANGES.c.run_id == run_id).order_by(CHANGES.c.id)
        with self._sessions() as session:
            return [change_from(r) for r in session.execute(statement).mappings()]

    def get(self, change_id: int) -> AssignmentChange | None:
        """One change by id."""
        with self._sessions() as session:
            row = session.execute(select(CHANGES).where(CHANGES.c.id == change_id)).mappings().first()
        return change_from(row) if row else None

    def insert_many(self, changes: Iterable[AssignmentChange]) -> int:
        """Append changes in bulk (imports, benchmarks), in one transaction; returns how many."""
        total = 0
        batch: list[dict[str, object]] = []
        with self._sessions.begin() as session:
            for change in changes:
                batch.append(change_values(change))
                if len(batch) >= INSERT_CHUNK:
                    session.execute(insert(CHANGES), batch)
                    total += len(batch)
                    batch = []
            if batch:
                session.execute(insert(CHANGES), batch)
                total += len(batch)
        return total


def ids(rows: Sequence[AssignmentChange]) -> tuple[int, ...]:
    """The ids of stored changes."""
    return tuple(r.id for r in rows if r.id is not None)
