"""A deterministic million-row history for the GUI's paging and filter tests (and nothing else)."""

from __future__ import annotations

import sqlite3
import time
from collections.abc import Iterator
from pathlib import Path

from app.domain.history import AssignmentChange, ChangeSource, SyncState
from app.domain.people import Agent, Team

ROWS = 1_000_000
AGENTS = 20
SPAN_DAYS = 60
SOURCES = (ChangeSource.WORKFLOW,) * 7 + (ChangeSource.UNDO,) * 1 + (ChangeSource.PLATFORM,) * 2
STATES = (SyncState.SYNCED, SyncState.SYNCED, SyncState.PENDING, SyncState.FAILED, SyncState.SKIPPED)


def changes(rows: int, now: float) -> Iterator[AssignmentChange]:
    """Newest last; row i is `i * step` seconds after the start of the span, so order by time is order by id."""
    step = SPAN_DAYS * 86_400 / rows
    start = now - SPAN_DAYS * 86_400
    for i in range(rows):
        source = SOURCES[i % len(SOURCES)]
        agent = 1 + i % AGENTS
        unassign = source is ChangeSource.WORKFLOW
        yield AssignmentChange(
            contact_id=1 + (i * 7919) % 50_000,
            at=start + i * step,
            from_agent_id=agent if unassign else None,
            to_agent_id=None if unassign else 1 + (i * 3) % AGENTS,
            source=source,
            actor="Unassign on close" if unassign else "respond.io",
            reason="unassigned" if unassign else "assigned on the platform",
            sync_state=STATES[i % len(STATES)],
            workflow_id=1 if unassign else None,
        )


def agents() -> list[Agent]:
    """The agents the rows name."""
    team = Team(1, "Support")
    return [Agent(i, f"Agent{i}", "Test", f"a{i}@example.com", team=team) for i in range(1, AGENTS + 1)]


def build(path: Path, rows: int = ROWS, now: float | None = None) -> float:
    """Write the history to a new SQLite file at `path`; returns the `now` it was anchored on.

    The store creates the schema and caches the agents; the million rows are then generated inside SQLite by one
    INSERT … SELECT over a recursive counter, the same rows `changes()` yields (through `insert_many` it takes
    45 s here, which a test run cannot afford). The indexes are dropped for the insert and rebuilt from their
    own definitions after it.
    """
    from app.storage.store import Store

    anchor = time.time() if now is None else now
    store = Store.open(f"sqlite:///{path}")
    try:
        store.cache.upsert_agents(agents())
    finally:
        store.close()
    step = SPAN_DAYS * 86_400 / rows
    start = anchor - SPAN_DAYS * 86_400
    source = "CASE WHEN i % 10 < 7 THEN 'workflow' WHEN i % 10 = 7 THEN 'undo' ELSE 'platform' END"
    states = (
        "CASE i % 5 WHEN 0 THEN 'synced' WHEN 1 THEN 'synced' WHEN 2 THEN 'pending' WHEN 3 THEN 'failed' "
        "ELSE 'skipped' END"
    )
    unassign = "i % 10 < 7"
    connection = sqlite3.connect(path, isolation_level=None)
    connection.execute("PRAGMA synchronous = OFF")
    connection.execute("PRAGMA cache_size = -200000")
    connection.execute("PRAGMA temp_store = MEMORY")
    try:
        indexes = [
            sql
            for (sql,) in connection.execute(
                "SELECT sql FROM sqlite_schema WHERE type = 'index' AND tbl_name = 'changes' AND sql IS NOT NULL"
            )
        ]
        names = [
            name
            for (name,) in connection.execute(
                "SELECT name FROM sqlite_schema WHERE type = 'index' AND tbl_name = 'changes' AND sql IS NOT NULL"
            )
        ]
        connection.execute("BEGIN")
        for name in names:
            connection.execute(f'DROP INDEX "{name}"')
        connection.execute(
            f"""
            INSERT INTO changes (contact_id, conversation_id, at, from_agent_id, to_agent_id, source, actor, reason,
                                 sync_state, workflow_id, run_id)
            WITH RECURSIVE n(i) AS (SELECT 0 UNION ALL SELECT i + 1 FROM n WHERE i < {rows - 1})
            SELECT 1 + (i * 7919) % 50000, NULL, {start!r} + i * {step!r},
                   CASE WHEN {unassign} THEN 1 + i % {AGENTS} END,
                   CASE WHEN {unassign} THEN NULL ELSE 1 + (i * 3) % {AGENTS} END,
                   {source},
                   CASE WHEN {unassign} THEN 'Unassign on close' ELSE 'respond.io' END,
                   CASE WHEN {unassign} THEN 'unassigned' ELSE 'assigned on the platform' END,
                   {states},
                   CASE WHEN {unassign} THEN 1 END,
                   NULL
            FROM n
            """
        )
        for sql in indexes:
            connection.execute(sql)
        connection.execute("COMMIT")
    finally:
        connection.close()
    return anchor
