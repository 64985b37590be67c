"""Trying a database URL says in words what stands in the way, against a real PostgreSQL and real files."""

from __future__ import annotations

from pathlib import Path

import pytest
from sqlalchemy import create_engine, text
from sqlalchemy.engine import make_url

from app.domain.errors import StorageError
from app.storage.database import SCHEMA_HEAD, SCHEMA_NEEDS
from app.storage.probe import check_url
from app.storage.store import Store
from tests.loopback import free_port
from tests.pg import PgServer


def _with(url: str, **parts: object) -> str:
    return make_url(url).set(**parts).render_as_string(hide_password=False)  # type: ignore[arg-type]


@pytest.mark.postgres
def test_a_current_database_and_an_empty_one_are_usable(pg_server: PgServer) -> None:
    current = check_url(pg_server.new_database())
    assert current.ok and current.schema == SCHEMA_HEAD
    assert f"at schema {SCHEMA_HEAD}" in current.message
    empty = check_url(pg_server.new_database(template="template0"))
    assert empty.ok and "an empty database; Closeout will set it up" in empty.message


@pytest.mark.postgres
def test_nothing_listening_at_the_host_and_port(pg_server: PgServer) -> None:
    port = free_port()
    found = check_url(_with(pg_server.new_database(), port=port))
    assert not found.ok
    assert found.message.startswith(f"Nothing answers at 127.0.0.1:{port}: check that PostgreSQL runs there")


@pytest.mark.postgres
def test_a_wrong_password(pg_server: PgServer) -> None:
    found = check_url(_with(pg_server.new_database(), password="not-the-password"))
    assert not found.ok
    assert "refused the password for the user closeout" in found.message


@pytest.mark.postgres
def test_a_missing_database(pg_server: PgServer) -> None:
    found = check_url(pg_server.url("no_such_db"))
    assert not found.ok
    assert found.message.startswith("There is no database no_such_db on 127.0.0.1:")
    assert "createdb no_such_db" in found.message


@pytest.mark.postgres
def test_a_user_without_permission(pg_server: PgServer) -> None:
    url = pg_server.new_database()
    database = make_url(url).database
    pg_server.execute(
        "DROP ROLE IF EXISTS closeout_reader",
        "CREATE ROLE closeout_reader LOGIN PASSWORD 'reader-pw'",
    )
    as_reader = pg_server.url(str(database), user="closeout_reader", password="reader-pw")
    # PUBLIC may connect to a new database, but not read or write Closeout's tables.
    found = check_url(as_reader)
    assert not found.ok
    assert "The user closeout_reader may not read and write the table" in found.message

    pg_server.execute(f'REVOKE CONNECT ON DATABASE "{database}" FROM PUBLIC')
    refused = check_url(as_reader)
    assert not refused.ok
    assert refused.message.startswith(f"The user closeout_reader has no permission to use the database {database}")

    empty = make_url(pg_server.new_database(template="template0")).database
    no_create = check_url(pg_server.url(str(empty), user="closeout_reader", password="reader-pw"))
    assert not no_create.ok
    assert "has no permission to create Closeout's tables" in no_create.message


@pytest.mark.postgres
def test_a_user_who_may_only_read_or_has_no_sequence_rights_is_told_what_to_grant(pg_server: PgServer) -> None:
    url = pg_server.new_database()
    database = make_url(url).database
    pg_server.execute("DROP ROLE IF EXISTS closeout_partial", "CREATE ROLE closeout_partial LOGIN PASSWORD 'pw'")
    as_partial = pg_server.url(str(database), user="closeout_partial", password="pw")
    owner = create_engine(url)
    try:
        with owner.begin() as connection:
            connection.execute(text("GRANT SELECT ON ALL TABLES IN SCHEMA public TO closeout_partial"))
        read_only = check_url(as_partial)
        assert not read_only.ok
        assert "(missing: INSERT, UPDATE, DELETE)" in read_only.message

        with owner.begin() as connection:
            connection.execute(text("GRANT INSERT, UPDATE, DELETE ON ALL TABLES IN SCHEMA public TO closeout_partial"))
        no_sequence = check_url(as_partial)
        assert not no_sequence.ok
        assert "USAGE of its id sequence" in no_sequence.message
        assert "GRANT USAGE ON ALL SEQUENCES IN SCHEMA public TO closeout_partial" in no_sequence.message

        with owner.begin() as connection:
            connection.execute(text("GRANT USAGE ON ALL SEQUENCES IN SCHEMA public TO closeout_partial"))
        assert check_url(as_partial).ok
    finally:
        owner.dispose()


def test_a_schema_newer_than_this_closeout(db_url: str) -> None:
    Store.open(db_url).close()
    engine = create_engine(db_url)
    try:
        with engine.begin() as connection:
            connection.execute(text("UPDATE alembic_version SET version_num = '9999'"))
            connection.execute(text(f"UPDATE meta SET value = '3.1.0' WHERE key = '{SCHEMA_NEEDS}'"))
    finally:
        engine.dispose()
    found = check_url(db_url)
    assert not found.ok
    assert "schema 9999, from a newer Closeout than this one" in found.message
    assert "Install Closeout 3.1.0 or newer" in found.message


def test_sqlite_files_are_checked_in_words(tmp_path: Path) -> None:
    assert check_url(f"sqlite:///{tmp_path / 'new.sqlite3'}").message.endswith(
        "does not exist yet: Closeout will create it."
    )
    garbage = tmp_path / "notes.txt"
    garbage.write_text("hello")
    found = check_url(f"sqlite:///{garbage}")
    assert not found.ok and "it is not an SQLite file" in found.message
    assert not check_url("mysql+nodriver://x/y").ok


@pytest.mark.postgres
def test_opening_a_database_that_cannot_be_used_says_so_in_words(pg_server: PgServer) -> None:
    url = pg_server.new_database()
    port = free_port()
    with pytest.raises(StorageError) as unreachable:
        Store.open(_with(url, port=port))
    assert unreachable.value.message.startswith(f"The database at postgresql+psycopg://closeout:***@127.0.0.1:{port}/")
    assert "cannot be reached" in unreachable.value.message
    with pytest.raises(StorageError) as refused:
        Store.open(_with(url, password="wrong"))
    assert refused.value.message.endswith("refused the password.")
    with pytest.raises(StorageError) as missing:
        Store.open(pg_server.url("no_such_db"))
    assert missing.value.message.endswith("does not exist on its server.")
