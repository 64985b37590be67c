"""The assignment history: filtered, keyset-paged queries, counts and chart aggregates.

Pages are newest first by (at, id), and the next page starts strictly after the last row's (at, id):
never OFFSET, so page 500 costs what page 1 costs. Every filter but `sync_state` has an index that starts
with its column.
"""

from __future__ import annotations

import datetime as dt
import math
from collections.abc import Collection, Iterable
from dataclasses import replace
from itertools import islice, pairwise
from operator import itemgetter
from typing import Any

from sqlalchemy import (
    ColumnElement,
    Float,
    Select,
    and_,
    case,
    cast,
    column,
    func,
    insert,
    or_,
    select,
    tuple_,
    union_all,
    values,
)
from sqlalchemy import Integer as SqlInteger
from sqlalchemy.orm import Session, sessionmaker

from app.domain import local_days
from app.domain.history import AssignmentChange, ChangeSource, Cursor, HistoryFilter, HistoryPage
from app.storage.models import CHANGES
from app.storage.rows import change_from, change_values

INSERT_CHUNK = 5000
DAY = 86_400
DAYS_PER_QUERY = 4000
"""Days counted per statement: two bound values each, well under SQLite's 32,766 (a history since 1970 has 20,000)."""
SMALL_TEAM = 8
"""Members a team filter reads as one branch each at most; a larger team walks the history newest first."""
VALUE_COLUMNS = tuple(column.name for column in CHANGES.c if column.name != "id")


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
    if flt.agent_ids is not None:
        where.append(or_(c.from_agent_id.in_(flt.agent_ids), c.to_agent_id.in_(flt.agent_ids)))
    if flt.contact_ids is not None:
        where.append(c.contact_id.in_(flt.contact_ids))
    if flt.conversation_ids is not None:
        where.append(c.conversation_id.in_(flt.conversation_ids))
    return where


def _branches(flt: HistoryFilter) -> tuple[list[list[ColumnElement[bool]]], HistoryFilter]:
    """A small team's filter split into two branches per member, and what every branch also checks.

    No branches for a larger team (see `newest_first`), or for contacts: an IN list of contacts reads each
    one's few changes from the (contact_id, at) index and sorts those, which costs less than merging.
    """
    c = CHANGES.c
    if not flt.agent_ids or len(set(flt.agent_ids)) > SMALL_TEAM:
        return [], flt
    members = sorted(set(flt.agent_ids))
    away = [[c.from_agent_id == a] for a in members]
    # Changes to a member but from none of them, so a change between two members comes once.
    to = [[c.to_agent_id == a, or_(c.from_agent_id.is_(None), c.from_agent_id.not_in(members))] for a in members]
    return away + to, replace(flt, agent_ids=None)


def _team_by_time(flt: HistoryFilter) -> list[ColumnElement[bool]]:
    """A larger team's condition, written so SQLite walks the (at, id) index newest first and tests each row.

    `+ 0` keeps SQLite off the agent indexes: through them it would read and sort every change of the team
    in the range before the first row (130 ms for 40 agents over 30 days of 1M changes), while a team that
    large has a page within the newest few thousand changes.
    """
    c = CHANGES.c
    members = sorted(set(flt.agent_ids or ()))
    return [or_((c.from_agent_id + 0).in_(members), (c.to_agent_id + 0).in_(members))]


def newest_first(
    flt: HistoryFilter, after: Cursor | None = None, limit: int | None = None
) -> Select[tuple[object, ...]]:
    """The SELECT of all columns for `flt`, newest first, starting after `after`, at most `limit` rows.

    With a small team, each member is a branch read newest first from its own index and cut at `limit`, and
    the branches are merged: a page costs `limit` index entries per branch, where an IN list makes SQLite
    read and sort every change of the team (each branch is one equality, so SQLite reads it in order from
    the index: a list cannot be). A larger team is common enough in the history to find its page by time.

    With an agent, the OR of "from" and "to" becomes two branches, changes from the agent and changes to
    them but not from them (so no row comes twice), each read newest first from its own (agent, at) index
    and merged: a page costs a few hundred index entries. Written as an OR, SQLite reads and sorts every
    change of the agent in the range first (150 ms for a busy agent over 30 days of 1M changes).
    """
    c = CHANGES.c
    branches, rest = _branches(flt)
    if branches:
        common = conditions(rest)
        if after is not None:
            common.append(tuple_(c.at, c.id) < tuple_(after.at, after.id))
        parts = []
        for branch in branches:
            part = select(CHANGES).where(*branch, *common).order_by(c.at.desc(), c.id.desc())
            parts.append(select(part.limit(limit).subquery() if limit is not None else part.subquery()))
        merged = union_all(*parts).subquery("set_changes")
        statement = select(merged).order_by(merged.c.at.desc(), merged.c.id.desc())
        return statement if limit is None else statement.limit(limit)
    where = conditions(replace(flt, agent_id=None, agent_ids=None))
    if flt.agent_ids:
        where.extend(_team_by_time(flt))
    elif flt.agent_ids is not None:
        where.extend(conditions(HistoryFilter(agent_ids=())))
    if after is not None:
        where.append(tuple_(c.at, c.id) < tuple_(after.at, after.id))
    if flt.agent_id is None:
        statement = select(CHANGES).where(and_(True, *where)).order_by(c.at.desc(), c.id.desc())
        return statement if limit is None else statement.limit(limit)
    both = union_all(
        select(CHANGES).where(c.from_agent_id == flt.agent_id, *where),
        select(CHANGES).where(c.to_agent_id == flt.agent_id, c.from_agent_id.is_distinct_from(flt.agent_id), *where),
    ).subquery("agent_changes")
    statement = select(both).order_by(both.c.at.desc(), both.c.id.desc())
    return statement if limit is None else statement.limit(limit)


class HistoryRepository:
    """Reads and bulk writes of the history table."""

    def __init__(self, sessions: sessionmaker[Session]) -> None:
        """Work through `sessions`, one session per call."""
        self._sessions = sessions

    def page(self, flt: HistoryFilter, after: Cursor | None = None, limit: int = 200) -> HistoryPage:
        """Up to `limit` changes matching `flt`, newest first, after `after`."""
        with self._sessions() as session:
            rows = [change_from(r) for r in session.execute(newest_first(flt, after, limit + 1)).mappings()]
        more = len(rows) > limit
        rows = rows[:limit]
        last = rows[-1] if more and rows else None
        return HistoryPage(tuple(rows), Cursor(last.at, last.id) if last and last.id is not None else None)

    def count(self, flt: HistoryFilter) -> int:
        """How many changes match `flt`."""
        statement = select(func.count()).select_from(CHANGES).where(and_(True, *conditions(flt)))
        with self._sessions() as session:
            return int(session.execute(statement).scalar_one())

    def per_day_by_source(self, flt: HistoryFilter, zone: dt.tzinfo | None = None) -> list[tuple[int, str, int]]:
        """Changes per local day and source: (day start as Unix seconds, source, count), oldest day first.

        Days break at midnight in `zone` (None: this machine's zone), so a day that leaves summer time has
        25 hours and one that enters it 23 (see `app.domain.local_days`).

        A GROUP BY on that day makes SQLite sort every matching row (a second for 1M changes). When only time
        and source are filtered, the chart's usual view, the figures are counted from the (source, at) index
        instead (see `_per_day_from_index`). Other filters usually pick fewer rows through their own index, and
        the GROUP BY then has little to sort.
        """
        span = self._span(flt)
        if span is None:
            return []
        if replace(flt, since=None, until=None, source=None) == HistoryFilter():
            return self._per_day_from_index(flt, span, zone)
        # A change's local day number is (floor(at) + offset) // DAY, with the offset in force at that moment.
        changes = local_days.offset_changes(*span, zone)
        whole = cast(CHANGES.c.at, SqlInteger)  # CAST truncates: floor(at) for times after 1970
        day: ColumnElement[int] = (whole + changes[-1][1]) // DAY
        if len(changes) > 1:
            segments = [
                (CHANGES.c.at < until, (whole + offset) // DAY) for (_, offset), (until, _) in pairwise(changes)
            ]
            day = case(*segments, else_=day)
        statement = (
            select(day.label("day"), CHANGES.c.source, func.count())
            .where(and_(True, *conditions(flt)))
            .group_by("day", CHANGES.c.source)
            .order_by("day", CHANGES.c.source)
        )
        with self._sessions() as session:
            rows = session.execute(statement).all()
        return [
            (int(local_days.day_start(local_days.date_of_number(int(d)), zone)), str(s), int(n)) for d, s, n in rows
        ]

    def _span(self, flt: HistoryFilter) -> tuple[float, float] | None:
        """The times of the first and last change that match `flt`, or None when none does."""
        c = CHANGES.c
        where = and_(True, *conditions(flt))
        with self._sessions() as session:
            first, last = session.execute(
                select(
                    select(func.min(c.at)).where(where).scalar_subquery(),
                    select(func.max(c.at)).where(where).scalar_subquery(),
                )
            ).one()
        if first is None or last is None:
            return None
        return float(first), float(last)

    def _per_day_from_index(
        self, flt: HistoryFilter, span: tuple[float, float], zone: dt.tzinfo | None
    ) -> list[tuple[int, str, int]]:
        """`per_day_by_source` as one range count on the (source, at) index per (day, source).

        The days run from the first matching change's to the last's, and each count reads its index entries
        once and the table not at all; sources and days without changes are left out, as a GROUP BY would.
        `since` and `until` only cut the first and last day short, so they narrow those days' ranges rather
        than being checked on every entry (which took a third of the time).
        """
        bounds = [(math.floor(start), math.floor(end)) for _, start, end in local_days.days_between(*span, zone)]
        found: list[tuple[int, str, int]] = []
        for first in range(0, len(bounds), DAYS_PER_QUERY):
            found.extend(self._count_days(flt, bounds[first : first + DAYS_PER_QUERY]))
        return found

    def _count_days(self, flt: HistoryFilter, bounds: list[tuple[int, int]]) -> list[tuple[int, str, int]]:
        """The counts of `_per_day_from_index` for these days, each given as its [start, end) in Unix seconds."""
        c = CHANGES.c
        by_source = conditions(replace(flt, since=None, until=None))
        days = values(column("start", Float), column("end", Float), name="days").data(bounds).cte("days")
        low = days.c.start if flt.since is None else case((days.c.start < flt.since, flt.since), else_=days.c.start)
        high = days.c.end if flt.until is None else case((days.c.end > flt.until, flt.until), else_=days.c.end)
        sources = sorted(source.value for source in ChangeSource)
        counts = [
            select(func.count()).where(c.source == source, c.at >= low, c.at < high, *by_source).scalar_subquery()
            for source in sources
        ]
        with self._sessions() as session:
            rows = session.execute(select(days.c.start, *counts).order_by(days.c.start)).all()
        return [
            (int(day_start), source, int(count))
            for day_start, *day_counts in rows
            for source, count in zip(sources, day_counts, strict=True)
            if count
        ]

    def per_agent(self, flt: HistoryFilter) -> list[tuple[int, int]]:
        """Unassignments per agent (changes away from them): (agent id, count), busiest first.

        With a time range, SQLite's planner reads the range from the (at, id) index and then each table row
        for its agent (two seconds for 90 days of 1M changes). When only time is filtered, the chart's usual
        view, each agent's count is instead a range count on the (from_agent_id, at) index, which never
        touches the table; the agents themselves are found on that index by jumping from one to the next.
        """
        c = CHANGES.c
        if replace(flt, since=None, until=None) == HistoryFilter():
            return self._per_agent_from_index(flt)
        statement = (
            select(c.from_agent_id, func.count().label("n"))
            .where(and_(c.from_agent_id.is_not(None), *conditions(flt)))
            .group_by(c.from_agent_id)
            .order_by(func.count().desc(), c.from_agent_id)
        )
        with self._sessions() as session:
            return [(int(a), int(n)) for a, n in session.execute(statement)]

    def _per_agent_from_index(self, flt: HistoryFilter) -> list[tuple[int, int]]:
        """`per_agent` as one range count per agent on the (from_agent_id, at) index."""
        c = CHANGES.c
        agents = select(func.min(c.from_agent_id).label("agent")).cte("agents", recursive=True)
        agents = agents.union_all(
            select(select(func.min(c.from_agent_id)).where(c.from_agent_id > agents.c.agent).scalar_subquery()).where(
                agents.c.agent.is_not(None)
            )
        )
        count = select(func.count()).where(c.from_agent_id == agents.c.agent, *conditions(flt)).scalar_subquery()
        statement = select(agents.c.agent, count).where(agents.c.agent.is_not(None))
        with self._sessions() as session:
            counts = [(int(a), int(n)) for a, n in session.execute(statement) if n]
        return sorted(counts, key=lambda pair: (-pair[1], pair[0]))

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

    def first_for_runs(self, run_ids: Collection[int]) -> dict[int, AssignmentChange]:
        """The first change each of these runs made, by run id (runs that changed nothing are absent)."""
        if not run_ids:
            return {}
        first = select(func.min(CHANGES.c.id)).where(CHANGES.c.run_id.in_(run_ids)).group_by(CHANGES.c.run_id)
        with self._sessions() as session:
            rows = session.execute(select(CHANGES).where(CHANGES.c.id.in_(first))).mappings()
            return {r["run_id"]: change_from(r) for r in rows}

    def get(self, change_id: int) -> AssignmentChange | None:
        """One change by id."""
        with self._sessions() as session:
            row = session.execute(select(CHANGES).where(CHANGES.c.id == change_id)).mappings().first()
        return change_from(row) if row else None

    def insert_many(self, changes: Iterable[AssignmentChange]) -> int:
        """Append changes in bulk (imports, benchmarks), in one transaction; returns how many.

        The INSERT is compiled once and each chunk goes straight to the driver's executemany. Given dicts,
        SQLAlchemy processes every row's parameters again (`construct_params`), which added half of SQLite's
        own insert time. Nothing is skipped by going around it: the columns are plain integers, floats and
        strings, which have no bind processors.
        """
        rows = map(change_values, changes)
        total = 0
        with self._sessions.begin() as session:
            connection = session.connection()
            compiled = insert(CHANGES).compile(
                dialect=connection.dialect, column_keys=list(VALUE_COLUMNS), for_executemany=True
            )
            statement = str(compiled)
            # A positional driver (SQLite's qmark) takes tuples in the compiled order; a named one takes the dicts.
            order = itemgetter(*compiled.positiontup) if compiled.positional and compiled.positiontup else None
            while chunk := list(islice(rows, INSERT_CHUNK)):
                parameters: list[Any] = [order(row) for row in chunk] if order else chunk
                connection.exec_driver_sql(statement, parameters)
                total += len(chunk)
        return total
