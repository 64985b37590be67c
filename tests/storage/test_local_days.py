"""History per local day across daylight-saving changes, in a given zone and in the machine's own."""

from __future__ import annotations

import datetime as dt
import sqlite3
import time
from collections import Counter
from collections.abc import Iterator
from zoneinfo import ZoneInfo

import pytest
from sqlalchemy import event

from app.domain.history import AssignmentChange, ChangeSource, HistoryFilter, SyncState
from app.storage.store import Store

NEW_YORK = ZoneInfo("America/New_York")
HOUR = 3600
# New York leaves summer time at 2026-11-01 02:00 EDT (06:00 UTC): that local day has 25 hours.
NOV_1_START = dt.datetime(2026, 11, 1, 4, tzinfo=dt.UTC).timestamp()  # midnight EDT
NOV_2_START = dt.datetime(2026, 11, 2, 5, tzinfo=dt.UTC).timestamp()  # midnight EST
NOV_3_START = NOV_2_START + 24 * HOUR


def _change(at: float, source: ChangeSource = ChangeSource.WORKFLOW, agent: int = 1) -> AssignmentChange:
    return AssignmentChange(
        contact_id=1,
        at=at,
        from_agent_id=agent,
        to_agent_id=None,
        source=source,
        actor="x",
        reason="y",
        sync_state=SyncState.SYNCED,
    )


def _around_the_change() -> list[AssignmentChange]:
    """Changes every 40 minutes from three days before New York's change to three days after."""
    start = NOV_1_START - 3 * 24 * HOUR
    sources = list(ChangeSource)
    return [_change(start + k * 2400 + 7, sources[k % 3], agent=1 + k % 2) for k in range(int(6 * 24 * HOUR / 2400))]


def _expected(rows: list[AssignmentChange], flt: HistoryFilter, day_of: dict[dt.date, float]) -> Counter[tuple]:
    counted: Counter[tuple] = Counter()
    for row in rows:
        if (flt.since is not None and row.at < flt.since) or (flt.until is not None and row.at >= flt.until):
            continue
        if flt.agent_id is not None and flt.agent_id not in (row.from_agent_id, row.to_agent_id):
            continue
        counted[(day_of[dt.datetime.fromtimestamp(row.at, NEW_YORK).date()], row.source.value)] += 1
    return counted


FILTERS = [
    HistoryFilter(),
    HistoryFilter(since=NOV_1_START + 5 * HOUR, until=NOV_2_START + 3 * HOUR),
    HistoryFilter(agent_id=2),
    HistoryFilter(agent_id=1, since=NOV_1_START - 30 * HOUR),
]


@pytest.mark.parametrize("flt", FILTERS, ids=["everything", "time range", "agent", "agent and since"])
def test_days_break_at_new_york_midnight_on_both_sides_of_the_dst_change(store: Store, flt: HistoryFilter) -> None:
    rows = _around_the_change()
    rows.append(_change(NOV_2_START - 30 * 60))  # 23:30 EST on 1 November, an hour past midnight UTC-4
    store.history.insert_many(rows)
    days = {dt.date(2026, 10, d): NOV_1_START - (32 - d) * 24 * HOUR for d in range(28, 32)}
    days |= {dt.date(2026, 11, 1): NOV_1_START, dt.date(2026, 11, 2): NOV_2_START, dt.date(2026, 11, 3): NOV_3_START}
    days |= {dt.date(2026, 11, 4): NOV_3_START + 24 * HOUR}

    figures = store.history.per_day_by_source(flt, NEW_YORK)

    assert Counter({(d, s): n for d, s, n in figures}) == _expected(rows, flt, days)
    starts = sorted({d for d, _, _ in figures})
    assert [d for d, _, _ in figures] == sorted(d for d, _, _ in figures)
    if NOV_1_START in starts and NOV_2_START in starts:
        assert NOV_2_START - NOV_1_START == 25 * HOUR


@pytest.fixture
def zone_of_the_machine(monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    """This process in New York time, as `TZ=America/New_York` would start it."""
    monkeypatch.setenv("TZ", "America/New_York")
    time.tzset()
    yield
    monkeypatch.undo()
    time.tzset()


def test_the_machine_zone_is_followed_across_its_dst_change(store: Store, zone_of_the_machine: None) -> None:
    rows = _around_the_change()
    store.history.insert_many(rows)

    def local_day_start(at: float) -> float:
        year, month, day = time.localtime(at)[:3]
        return time.mktime((year, month, day, 0, 0, 0, 0, 0, -1))

    for flt in (HistoryFilter(), HistoryFilter(agent_id=1)):
        picked = [r for r in rows if flt.agent_id in (None, r.from_agent_id)]
        expected = Counter((local_day_start(r.at), r.source.value) for r in picked)
        figures = store.history.per_day_by_source(flt, None)
        assert Counter({(d, s): n for d, s, n in figures}) == expected
        assert {NOV_1_START, NOV_2_START} <= {d for d, _, _ in figures}


@pytest.mark.sqlite_only  # SQLite's limit on bound values
def test_a_history_that_spans_decades_is_counted_in_several_statements(store: Store) -> None:
    """A stray change from 1970 beside today's makes 20,000 days, more than one statement may bind.

    Debian's SQLite binds up to 250,000 values; SQLite's own default, which other builds keep, is 32,766.
    """

    @event.listens_for(store.db.engine, "connect")
    def _default_limit(connection: sqlite3.Connection, _record: object) -> None:
        connection.setlimit(sqlite3.SQLITE_LIMIT_VARIABLE_NUMBER, 32_766)

    store.db.engine.dispose()
    rows = [_change(7.0), _change(NOV_1_START + HOUR, ChangeSource.UNDO), _change(NOV_2_START + HOUR)]
    store.history.insert_many(rows)
    figures = store.history.per_day_by_source(HistoryFilter(), NEW_YORK)
    first_day = dt.datetime.combine(dt.date(1969, 12, 31), dt.time(), tzinfo=NEW_YORK).timestamp()
    assert figures == [
        (int(first_day), "workflow", 1),
        (int(NOV_1_START), "undo", 1),
        (int(NOV_2_START), "workflow", 1),
    ]
