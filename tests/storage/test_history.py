"""History queries: keyset pages equal a naive query, and counts and chart figures add up."""

from __future__ import annotations

import datetime as dt
import shutil
import sqlite3
from collections import Counter
from collections.abc import Iterator
from dataclasses import replace
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from app.domain.history import AssignmentChange, ChangeSource, SyncState
from app.storage import history as history_module
from app.storage.history import DAY, HistoryFilter
from app.storage.store import Store

AGENTS = [1, 2, 3, None]
TIMES = [1_700_000_000.0 + k * 3_600 * 7 for k in range(12)]  # few distinct times: many ties on `at`

changes = st.builds(
    AssignmentChange,
    contact_id=st.integers(1, 6),
    at=st.sampled_from(TIMES),
    from_agent_id=st.sampled_from(AGENTS),
    to_agent_id=st.sampled_from(AGENTS),
    source=st.sampled_from(list(ChangeSource)),
    actor=st.just("test"),
    reason=st.just("because"),
    sync_state=st.sampled_from(list(SyncState)),
    conversation_id=st.one_of(st.none(), st.integers(1, 4)),
    workflow_id=st.one_of(st.none(), st.integers(1, 3)),
)
filters = st.builds(
    HistoryFilter,
    since=st.one_of(st.none(), st.sampled_from(TIMES)),
    until=st.one_of(st.none(), st.sampled_from(TIMES)),
    agent_id=st.one_of(st.none(), st.sampled_from([1, 2, 3])),
    source=st.one_of(st.none(), st.sampled_from(list(ChangeSource))),
    workflow_id=st.one_of(st.none(), st.integers(1, 3)),
    contact_id=st.one_of(st.none(), st.integers(1, 6)),
    conversation_id=st.one_of(st.none(), st.integers(1, 4)),
    sync_state=st.one_of(st.none(), st.sampled_from(list(SyncState))),
    agent_ids=st.one_of(st.none(), st.lists(st.sampled_from([1, 2, 3, 4]), max_size=3).map(tuple)),
    contact_ids=st.one_of(st.none(), st.lists(st.integers(1, 7), max_size=4).map(tuple)),
    conversation_ids=st.one_of(st.none(), st.lists(st.integers(1, 5), max_size=3).map(tuple)),
)


def matches(change: AssignmentChange, flt: HistoryFilter) -> bool:
    """The filter's meaning, spelled out in plain Python."""
    return (
        (flt.since is None or change.at >= flt.since)
        and (flt.until is None or change.at < flt.until)
        and (flt.agent_id is None or flt.agent_id in (change.from_agent_id, change.to_agent_id))
        and (flt.source is None or change.source == flt.source)
        and (flt.workflow_id is None or change.workflow_id == flt.workflow_id)
        and (flt.contact_id is None or change.contact_id == flt.contact_id)
        and (flt.conversation_id is None or change.conversation_id == flt.conversation_id)
        and (flt.sync_state is None or change.sync_state == flt.sync_state)
        and (flt.agent_ids is None or bool({change.from_agent_id, change.to_agent_id} & set(flt.agent_ids)))
        and (flt.contact_ids is None or change.contact_id in flt.contact_ids)
        and (flt.conversation_ids is None or change.conversation_id in flt.conversation_ids)
    )


@pytest.fixture(scope="module")
def empty_db(tmp_path_factory: pytest.TempPathFactory) -> Path:
    path = tmp_path_factory.mktemp("template") / "empty.sqlite3"
    Store.open(f"sqlite:///{path}").close()
    return path


@pytest.fixture(scope="module")
def fresh_store(empty_db: Path, tmp_path_factory: pytest.TempPathFactory) -> Iterator[object]:
    folder = tmp_path_factory.mktemp("examples")
    opened: list[Store] = []

    def make() -> Store:
        path = folder / f"db{len(opened)}.sqlite3"
        shutil.copy(empty_db, path)
        store = Store.open(f"sqlite:///{path}")
        opened.append(store)
        return store

    yield make
    for store in opened:
        store.close()


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    rows=st.lists(changes, max_size=60), flt=filters, page_size=st.integers(1, 7), small_team=st.sampled_from([0, 8])
)
def test_keyset_pages_equal_a_naive_query(fresh_store, rows, flt, page_size, small_team) -> None:  # type: ignore[no-untyped-def]
    # Both ways a team is read: one branch per member, or the history walked by time.
    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(history_module, "SMALL_TEAM", small_team)
        check_pages(fresh_store(), rows, flt, page_size)


def check_pages(store: Store, rows: list[AssignmentChange], flt: HistoryFilter, page_size: int) -> None:
    store.history.insert_many(rows)
    stored = store.history.page(HistoryFilter(), limit=10_000).rows
    expected = sorted((c for c in stored if matches(c, flt)), key=lambda c: (c.at, c.id or 0), reverse=True)

    paged: list[AssignmentChange] = []
    page = store.history.page(flt, limit=page_size)
    paged.extend(page.rows)
    while page.next is not None:
        page = store.history.page(flt, after=page.next, limit=page_size)
        assert page.rows, "a cursor was given for an empty page"
        paged.extend(page.rows)

    assert paged == expected
    assert store.history.count(flt) == len(expected)


def _sample(n: int) -> list[AssignmentChange]:
    base = 1_700_006_400.0  # a UTC midnight
    return [
        AssignmentChange(
            contact_id=i % 9,
            at=base + (i % 5) * DAY + i,
            from_agent_id=[1, 2, 2, 3][i % 4],
            to_agent_id=None if i % 3 else 4,
            source=[ChangeSource.WORKFLOW, ChangeSource.UNDO, ChangeSource.PLATFORM][i % 3],
            actor="x",
            reason="y",
            sync_state=SyncState.SYNCED,
        )
        for i in range(n)
    ]


def test_per_day_by_source_adds_up_per_local_day(store: Store) -> None:
    rows = _sample(300)
    store.history.insert_many(rows)
    offset = 2 * 3600
    figures = store.history.per_day_by_source(HistoryFilter(), dt.timezone(dt.timedelta(seconds=offset)))
    expected = Counter((int((r.at + offset) // DAY) * DAY - offset, r.source.value) for r in rows)
    assert {(d, s): n for d, s, n in figures} == expected
    assert [d for d, _, _ in figures] == sorted(d for d, _, _ in figures)


@pytest.mark.parametrize(
    "flt",
    [
        HistoryFilter(),
        HistoryFilter(since=1_700_006_400.0 + DAY + 30, until=1_700_006_400.0 + 3 * DAY + 10),
        HistoryFilter(until=1_700_006_400.0 + 2 * DAY),
        HistoryFilter(since=1_700_006_400.0 + 9 * DAY),
        HistoryFilter(source=ChangeSource.UNDO, since=1_700_006_400.0 + DAY),
    ],
    ids=["everything", "time range", "until", "empty range", "source and time"],
)
def test_per_agent_counts_changes_away_from_each_agent(store: Store, flt: HistoryFilter) -> None:
    rows = [*_sample(100), replace(_sample(1)[0], from_agent_id=None)]
    store.history.insert_many(rows)
    expected = Counter(r.from_agent_id for r in rows if r.from_agent_id is not None and matches(r, flt))
    figures = store.history.per_agent(flt)
    assert dict(figures) == expected
    assert figures == sorted(expected.items(), key=lambda pair: (-pair[1], pair[0]))


@pytest.mark.sqlite_only  # SQLite's query plan
def test_agent_filter_uses_both_agent_indexes(store: Store) -> None:
    store.history.insert_many(_sample(50))
    with sqlite3.connect(store.db.where) as raw:
        plan = raw.execute(
            "EXPLAIN QUERY PLAN SELECT * FROM changes WHERE (from_agent_id = 2 OR to_agent_id = 2) AND at >= 0"
        ).fetchall()
    details = " ".join(str(row[-1]) for row in plan)
    assert "ix_changes_from_agent_id_at" in details and "ix_changes_to_agent_id_at" in details
