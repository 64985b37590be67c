"""Opening the database: migrations on open, and clear errors for files and folders Closeout cannot use."""

from __future__ import annotations

import asyncio
import os
import sqlite3
import subprocess
import threading
from pathlib import Path

import pytest
from sqlalchemy import create_engine, text

from app.domain.errors import DatabaseCorrupt, DatabaseLocked, DatabaseReadOnly, DiskFull, SchemaTooNew
from app.storage.database import (
    SCHEMA_NEEDS,
    Database,
    app_version,
    head_revision,
    move_aside,
    run_sync,
    schema_revision,
)
from app.storage.store import Store
from tests.factories import close, unassign_plan
from tests.pg import PgServer


def test_open_creates_the_file_in_wal_mode_at_the_current_schema(db_path: Path) -> None:
    db = Database.open(f"sqlite:///{db_path}")
    try:
        assert db_path.exists()
        assert schema_revision(db.engine) == head_revision()
        with db.engine.connect() as connection:
            assert connection.execute(text("PRAGMA journal_mode")).scalar() == "wal"
            assert connection.execute(text("PRAGMA busy_timeout")).scalar() == 5000
    finally:
        db.close()


def test_default_location_follows_closeout_home(isolated_home: Path) -> None:
    db = Database.open()
    try:
        assert db.where == str(isolated_home / "data" / "closeout.sqlite3")
    finally:
        db.close()


def test_a_file_that_is_not_sqlite_is_refused_and_left_untouched(db_path: Path) -> None:
    garbage = b"this is my shopping list, not a database\n" * 100
    db_path.write_bytes(garbage)

    with pytest.raises(DatabaseCorrupt) as caught:
        Database.open(f"sqlite:///{db_path}")

    assert str(db_path) in caught.value.message
    assert "Move it aside" in caught.value.action
    assert db_path.read_bytes() == garbage


def test_a_damaged_sqlite_file_is_refused_and_left_untouched(db_path: Path) -> None:
    Store.open(f"sqlite:///{db_path}").close()
    damaged = bytearray(db_path.read_bytes())
    damaged[100:4096] = b"\xff" * (4096 - 100)  # the schema page, after the valid header
    db_path.write_bytes(bytes(damaged))

    with pytest.raises(DatabaseCorrupt):
        Database.open(f"sqlite:///{db_path}")
    assert db_path.read_bytes() == bytes(damaged)


def test_move_aside_keeps_the_old_file_and_a_fresh_database_opens(db_path: Path) -> None:
    db_path.write_bytes(b"not a database")
    kept = move_aside(db_path)
    assert kept.read_bytes() == b"not a database"
    assert not db_path.exists()
    Store.open(f"sqlite:///{db_path}").close()
    assert db_path.exists()


def _make_unwritable(folder: Path) -> None:
    """Make `folder` refuse new files, even for root (which ignores permission bits) on CI."""
    if os.geteuid() == 0:
        subprocess.run(["chattr", "+i", str(folder)], check=True)
    else:
        folder.chmod(0o555)


def _make_writable(folder: Path) -> None:
    if os.geteuid() == 0:
        subprocess.run(["chattr", "-i", str(folder)], check=True)
    folder.chmod(0o755)


def test_a_folder_that_cannot_be_written_says_so(tmp_path: Path) -> None:
    locked = tmp_path / "locked"
    locked.mkdir()
    _make_unwritable(locked)
    try:
        with pytest.raises(DatabaseReadOnly) as caught:
            Database.open(f"sqlite:///{locked / 'sub' / 'closeout.sqlite3'}")
        assert str(locked / "sub") in caught.value.message
        assert "write access" in caught.value.action
    finally:
        _make_writable(locked)


def test_a_full_disk_says_so_and_keeps_what_was_committed(db_path: Path) -> None:
    store = Store.open(f"sqlite:///{db_path}")
    try:
        store.plans.commit(unassign_plan(close(1)))
        with store.db.engine.connect() as connection:
            pages = connection.execute(text("PRAGMA page_count")).scalar()

        def fill_up() -> None:
            with store.db.sessions.begin() as session:
                # The same limit a full disk imposes: SQLite answers SQLITE_FULL.
                session.execute(text(f"PRAGMA max_page_count = {pages}"))
                for i in range(2, 2000):
                    session.execute(
                        text("INSERT INTO meta (key, value) VALUES (:k, :v)"), {"k": f"k{i}", "v": "x" * 2000}
                    )

        with pytest.raises(DiskFull) as caught:
            run_sync(fill_up, store.db.where)
        assert "Free some disk space" in caught.value.action
    finally:
        store.close()
    with sqlite3.connect(db_path) as raw:
        assert raw.execute("SELECT count(*) FROM closes").fetchone()[0] == 1


def test_a_database_locked_by_another_program_retries_then_says_so(db_path: Path) -> None:
    store = Store.open(f"sqlite:///{db_path}", busy_timeout_ms=50)
    holder = sqlite3.connect(db_path, timeout=0)
    try:
        holder.execute("BEGIN EXCLUSIVE")
        with pytest.raises(DatabaseLocked) as caught:
            run_sync(lambda: store.plans.commit(unassign_plan(close(1))), store.db.where)
        assert "Close any other Closeout window" in caught.value.action
    finally:
        holder.rollback()
        holder.close()
        store.close()


def test_a_lock_released_during_the_retries_goes_through(db_path: Path) -> None:
    store = Store.open(f"sqlite:///{db_path}", busy_timeout_ms=50)
    holder = sqlite3.connect(db_path, timeout=0, check_same_thread=False)
    holder.execute("BEGIN EXCLUSIVE")
    release = threading.Timer(0.1, holder.rollback)
    release.start()
    try:
        result = run_sync(lambda: store.plans.commit(unassign_plan(close(1))), store.db.where)
        assert len(result.closes) == 1
    finally:
        release.join()
        holder.close()
        store.close()


def test_a_database_from_a_newer_closeout_is_refused_naming_the_version_to_install(db_url: str) -> None:
    Store.open(db_url).close()
    engine = create_engine(db_url)
    try:
        with engine.begin() as connection:
            assert connection.execute(text(f"SELECT value FROM meta WHERE key = '{SCHEMA_NEEDS}'")).scalar() == (
                app_version()
            )
            connection.execute(text("UPDATE alembic_version SET version_num = '9999'"))
            connection.execute(text(f"UPDATE meta SET value = '9.4.1' WHERE key = '{SCHEMA_NEEDS}'"))
        with pytest.raises(SchemaTooNew) as refused:
            Database.open(db_url)
        assert "schema 9999, from a newer Closeout than this one" in refused.value.message
        assert "Install Closeout 9.4.1 or newer" in refused.value.action
        with engine.connect() as connection:  # nothing was written
            assert connection.execute(text("SELECT version_num FROM alembic_version")).scalar() == "9999"
    finally:
        engine.dispose()


async def test_writes_run_in_order_on_one_thread_off_the_event_loop(store: Store) -> None:
    caller = threading.get_ident()
    seen: list[int] = []

    def record(i: int) -> int:
        seen.append(threading.get_ident())
        return i

    results = await asyncio.gather(*(store.db.write(record, i) for i in range(20)))
    assert results == list(range(20))
    assert len(set(seen)) == 1 and seen[0] != caller


@pytest.mark.postgres
def test_postgresql_connections_run_without_jit_which_only_slowed_the_history_charts(pg_server: PgServer) -> None:
    store = Store.open(pg_server.new_database())
    try:
        for _ in range(2):  # the pool's first connection, and a new one after it was dropped
            with store.db.engine.connect() as connection:
                assert connection.exec_driver_sql("SHOW jit").scalar() == "off"
                connection.invalidate()
    finally:
        store.close()
