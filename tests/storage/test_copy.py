"""`db copy` moves every table from a desktop's SQLite into a shared PostgreSQL and back, losing nothing."""

from __future__ import annotations

import json
import sqlite3
import time
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import MetaData, create_engine, select, text

from app.domain.history import AssignmentChange, ChangeSource, SyncState
from app.domain.outbox import OutboxState
from app.engine.catalog import use_template
from app.engine.lifecycle import publish
from app.storage.copy import BATCH, TargetNotEmpty, copy_database
from app.storage.database import PG_WRITE_LOCK
from app.storage.store import Store
from tests.factories import close, unassign_plan
from tests.loopback import cli_env, run_cli
from tests.pg import PgServer

pytestmark = pytest.mark.postgres


def _dump(url: str) -> dict[str, list[tuple[Any, ...]]]:
    """Every table's rows in key order, with SQLite's 0/1 read as booleans."""
    engine = create_engine(url)
    try:
        metadata = MetaData()
        with engine.connect() as connection:
            metadata.reflect(connection)
            return {
                table.name: [
                    tuple(
                        bool(v) if v is not None and column.type.python_type is bool else v
                        for v, column in zip(row, table.columns, strict=True)
                    )
                    for row in connection.execute(select(table).order_by(*table.primary_key.columns))
                ]
                for table in metadata.sorted_tables
            }
    finally:
        engine.dispose()


def _fill(url: str, closes: int, changes: int) -> None:
    store = Store.open(url)
    try:
        store.workflows.save(publish(use_template("unassign-after-close")))
        store.plans.commit_many([unassign_plan(close(i)) for i in range(1, closes + 1)])
        claimed = store.outbox.claim_due(time.time(), limit=5).commands
        store.outbox.settle(claimed[0], OutboxState.DONE, change_state=SyncState.SYNCED, sent=True)
        store.history.insert_many(
            AssignmentChange(
                contact_id=i % 50,
                at=1_700_000_000.5 + i,
                from_agent_id=i % 7 or None,
                to_agent_id=None,
                source=ChangeSource.PLATFORM,
                actor="platform",
                reason="reassigned in the inbox",
                sync_state=SyncState.SYNCED,
            )
            for i in range(changes)
        )
        store.meta.set("last_poll_at", "1700000000.25")
    finally:
        store.close()


def test_sqlite_to_postgresql_and_back_keeps_every_row(tmp_path: Path, pg_server: PgServer) -> None:
    desktop = f"sqlite:///{tmp_path / 'desktop.sqlite3'}"
    back = f"sqlite:///{tmp_path / 'back.sqlite3'}"
    shared = pg_server.new_database(template="template0")
    _fill(desktop, closes=120, changes=BATCH + 700)  # the history spans two batches
    seen: list[tuple[str, int, int]] = []

    there = copy_database(desktop, shared, progress=lambda *p: seen.append(p))
    again = copy_database(shared, back)

    original = _dump(desktop)
    assert _dump(shared) == original
    assert _dump(back) == original
    assert there.rows == again.rows and there.rows["changes"] == 120 + BATCH + 700
    assert seen[-1] == ("", there.total, there.total)
    assert [done for _, done, _ in seen] == sorted(done for _, done, _ in seen)
    store = Store.open(shared)  # the copy is a working database: new rows take new ids
    try:
        result = store.plans.commit(unassign_plan(close(9_999)))
        assert result.closes == (121,)
    finally:
        store.close()


def test_a_target_holding_data_is_refused_unless_overwritten(tmp_path: Path, pg_server: PgServer) -> None:
    desktop = f"sqlite:///{tmp_path / 'desktop.sqlite3'}"
    shared = pg_server.new_database()
    _fill(desktop, closes=3, changes=2)
    _fill(shared, closes=8, changes=0)
    before = _dump(shared)

    with pytest.raises(TargetNotEmpty) as refused:
        copy_database(desktop, shared)
    assert (
        "already holds rows (8 in changes, 8 in closes," in refused.value.message
        and "nothing was copied" in refused.value.message
    )
    assert _dump(shared) == before

    copy_database(desktop, shared, overwrite=True)
    assert _dump(shared) == _dump(desktop)


@pytest.mark.slow
def test_the_cli_copies_with_progress_refuses_a_second_time_and_tests_urls(tmp_path: Path, pg_server: PgServer) -> None:
    desktop = f"sqlite:///{tmp_path / 'desktop.sqlite3'}"
    shared = pg_server.new_database(template="template0")
    _fill(desktop, closes=20, changes=10)
    env = cli_env(tmp_path / "home", None) | {"CLOSEOUT_DB_URL": desktop}

    copied = run_cli(env, "db", "copy", "--to", shared)
    assert copied.returncode == 0, copied.stderr
    copied_tables = {name: rows for name, rows in _dump(desktop).items() if name != "alembic_version"}
    assert copied.stdout == f"copied {sum(map(len, copied_tables.values()))} rows in {len(copied_tables)} tables\n"
    assert "changes" in copied.stderr and "rows" in copied.stderr  # the progress, one line per table off a terminal

    refused = run_cli(env, "db", "copy", "--to", shared)
    assert refused.returncode == 1
    assert "already holds rows" in refused.stderr and "--overwrite" in refused.stderr

    assert run_cli(env, "db", "copy", "--to", shared, "--overwrite").returncode == 0
    assert _dump(shared) == _dump(desktop)

    tried = run_cli(env, "db", "test", "--url", shared)
    assert tried.returncode == 0 and "Closeout's data, at schema" in tried.stdout
    wrong = run_cli(env, "db", "test", "--url", shared.replace(pg_server.admin.password or "", "wrong"))
    assert wrong.returncode == 1 and "refused the password for the user closeout" in wrong.stderr

    # The CLI works on the shared database itself (with a token, so not in the demo).
    on_shared = env | {
        "CLOSEOUT_DB_URL": shared,
        "CLOSEOUT_API_TOKEN": "t",
        "CLOSEOUT_API_URL": "http://127.0.0.1:9/v2",
    }
    status = run_cli(on_shared, "status", "--json")
    assert status.returncode == 0, status.stderr
    assert json.loads(status.stdout)["database"].startswith("postgresql+psycopg://closeout:***@127.0.0.1")
    queue = run_cli(on_shared, "queue", "--json")
    assert queue.returncode == 0 and len(json.loads(queue.stdout)) == 20


@pytest.mark.parametrize("source_kind", ["sqlite", "postgresql"])
def test_a_copy_leaves_the_source_free_for_other_writers(tmp_path: Path, pg_server: PgServer, source_kind: str) -> None:
    """A copy reads one snapshot of the source without its write lock: a GUI on the source keeps writing."""
    sqlite_file = tmp_path / "desktop.sqlite3"
    desktop, shared = f"sqlite:///{sqlite_file}", pg_server.new_database(template="template0")
    source, target = (desktop, shared) if source_kind == "sqlite" else (shared, desktop)
    _fill(source, closes=5, changes=BATCH + 10)
    writes_free: list[bool] = []

    def another_writer_tries(*_progress: object) -> None:
        if writes_free:
            return
        if source_kind == "sqlite":
            other = sqlite3.connect(sqlite_file, timeout=0.5, isolation_level=None)
            try:
                other.execute("BEGIN IMMEDIATE")
                other.execute("ROLLBACK")
                writes_free.append(True)
            except sqlite3.OperationalError:  # "database is locked"
                writes_free.append(False)
            finally:
                other.close()
        else:
            engine = create_engine(shared)
            try:
                with engine.begin() as other:
                    writes_free.append(bool(other.scalar(text(f"SELECT pg_try_advisory_xact_lock({PG_WRITE_LOCK})"))))
            finally:
                engine.dispose()

    copy_database(source, target, progress=another_writer_tries)
    assert writes_free == [True]
    assert _dump(target) == _dump(source)
