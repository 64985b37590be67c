"""Trying a database URL before it is used, and saying in words what stands in the way.

The check connects once, reads the schema version and, on PostgreSQL, the user's rights; it changes nothing.
It answers the questions a lead setting up a shared database has: is anything listening there, is the
password right, does the database exist, may this user write to it, and can this Closeout read its schema.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from sqlalchemy import Connection, create_engine, inspect, select, text
from sqlalchemy.engine import URL, make_url
from sqlalchemy.exc import ArgumentError, DBAPIError, NoSuchModuleError
from sqlalchemy.pool import NullPool

from app.domain.errors import StorageError
from app.storage.database import SCHEMA_HEAD, VERSION_TABLE, check_sqlite_file, known_revisions, too_new
from app.storage.models import Base

CONNECT_TIMEOUT_S = 5
# PostgreSQL's SQLSTATE codes for what a person can fix (https://www.postgresql.org/docs/current/errcodes-appendix.html).
WRONG_PASSWORD = "28P01"
NOT_ALLOWED_IN = "28000"
NO_SUCH_DATABASE = "3D000"
NO_PRIVILEGE = "42501"


@dataclass(frozen=True, slots=True)
class UrlCheck:
    """What a check of a database URL found: whether Closeout can use it, and why in words."""

    ok: bool
    message: str
    schema: str | None = None


def check_url(url: str) -> UrlCheck:
    """Try `url` (without changing anything there) and say whether Closeout can use it, in words."""
    try:
        parsed = make_url(url)
        parsed.get_dialect()
    except (ArgumentError, NoSuchModuleError, ValueError) as exc:
        return UrlCheck(False, f"This is not a database URL Closeout can use: {exc}.")
    if parsed.get_backend_name() == "sqlite":
        return _check_sqlite(parsed)
    if parsed.get_backend_name() != "postgresql":
        return UrlCheck(False, f"Closeout keeps its data in SQLite or PostgreSQL, not {parsed.get_backend_name()}.")
    engine = create_engine(parsed, poolclass=NullPool, connect_args={"connect_timeout": CONNECT_TIMEOUT_S})
    try:
        with engine.connect() as connection:
            return _check_postgres_schema(connection, parsed)
    except DBAPIError as exc:
        return UrlCheck(False, _postgres_words(exc, parsed))
    except StorageError as exc:
        return UrlCheck(False, str(exc))
    finally:
        engine.dispose()


def _where(url: URL) -> str:
    return f"{url.host or 'localhost'}:{url.port or 5432}"


def _postgres_words(exc: DBAPIError, url: URL) -> str:
    """A failed connection or query on PostgreSQL, as the lead can act on it."""
    state = getattr(exc.orig, "sqlstate", None)
    detail = str(exc.orig or exc).strip()
    lowered = detail.lower()
    user, database, where = url.username or "(none)", url.database or "(none)", _where(url)
    if state == WRONG_PASSWORD or "password authentication failed" in lowered:
        return f"PostgreSQL at {where} refused the password for the user {user}: check the password in the URL."
    if "no password supplied" in lowered or "fe_sendauth" in lowered:
        return f"PostgreSQL at {where} asks for the password of the user {user}, and the URL holds none."
    if state == NO_SUCH_DATABASE or (f'database "{database}" does not exist' in lowered):
        return (
            f"There is no database {database} on {where}: create it (e.g. `createdb {database}`) "
            "or correct its name in the URL."
        )
    if f'role "{user}" does not exist' in lowered:
        return f"PostgreSQL at {where} has no user {user}: create it, or correct the user in the URL."
    if state == NO_PRIVILEGE or "permission denied" in lowered:
        return (
            f"The user {user} has no permission to use the database {database} on {where} "
            f"(PostgreSQL says: {detail.splitlines()[0]})."
        )
    if state == NOT_ALLOWED_IN or "pg_hba.conf" in lowered:
        return f"PostgreSQL at {where} does not let the user {user} in from this computer (its pg_hba.conf)."
    if "connection refused" in lowered or "could not connect" in lowered or "timeout" in lowered:
        return (
            f"Nothing answers at {where}: check that PostgreSQL runs there, listens on that address and port, "
            "and that no firewall stands between."
        )
    if "could not translate host name" in lowered or "name or service not known" in lowered:
        return f"The host {url.host} is not known: check its name in the URL."
    return f"PostgreSQL at {where} cannot be used: {detail.splitlines()[0] if detail else type(exc.orig).__name__}."


def _check_postgres_schema(connection: Connection, url: URL) -> UrlCheck:
    user, database, where = url.username or "(none)", url.database or "(none)", _where(url)
    names = set(inspect(connection).get_table_names())
    if not names:
        may_create = connection.execute(text("SELECT has_schema_privilege(current_schema(), 'CREATE')")).scalar()
        if not may_create:
            return UrlCheck(
                False,
                f"The database {database} on {where} is empty, and the user {user} has no permission to create "
                f"Closeout's tables in it: grant it (e.g. `GRANT CREATE ON SCHEMA public TO {user}`), or make "
                f"{user} the database's owner.",
            )
        return UrlCheck(True, f"Connected to {database} on {where}: an empty database; Closeout will set it up.")
    if VERSION_TABLE.name not in names:
        return UrlCheck(
            False, f"The database {database} on {where} holds other tables, not Closeout's: use a database of its own."
        )
    grant = (
        f"grant it (e.g. `GRANT SELECT, INSERT, UPDATE, DELETE ON ALL TABLES IN SCHEMA public TO {user}` and "
        f"`GRANT USAGE ON ALL SEQUENCES IN SCHEMA public TO {user}`)"
    )
    for table in [VERSION_TABLE, *Base.metadata.sorted_tables]:
        if table.name not in names:
            continue
        # has_table_privilege with a list of privileges is true when any one of them is held: ask for each.
        missing = [
            privilege
            for privilege in ("SELECT", "INSERT", "UPDATE", "DELETE")
            if not connection.execute(
                text("SELECT has_table_privilege(:table, :privilege)"), {"table": table.name, "privilege": privilege}
            ).scalar()
        ]
        # A serial id's sequence needs USAGE of its own, or the first insert fails.
        sequence = connection.execute(
            text("SELECT pg_get_serial_sequence(:table, :column)"),
            {"table": table.name, "column": next(iter(table.primary_key.columns)).name},
        ).scalar()
        if (
            sequence
            and not connection.execute(
                text("SELECT has_sequence_privilege(:sequence, 'USAGE')"), {"sequence": sequence}
            ).scalar()
        ):
            missing.append(f"USAGE of its id sequence {sequence}")
        if missing:
            return UrlCheck(
                False,
                f"The user {user} may not read and write the table {table.name} in {database} on {where} "
                f"(missing: {', '.join(missing)}): {grant}.",
            )
    current = connection.execute(select(VERSION_TABLE.c.version_num)).scalar()
    if current not in known_revisions():
        raise too_new(connection, str(current))
    if current != SCHEMA_HEAD:
        return UrlCheck(
            True, f"Connected to {database} on {where}: schema {current}, which Closeout will upgrade.", current
        )
    return UrlCheck(True, f"Connected to {database} on {where}: Closeout's data, at schema {current}.", current)


def _check_sqlite(url: URL) -> UrlCheck:
    if url.database in (None, "", ":memory:"):
        return UrlCheck(True, "An in-memory SQLite database: nothing is kept after Closeout ends.")
    path = Path(str(url.database)).expanduser()
    try:
        check_sqlite_file(path)
    except StorageError as exc:
        return UrlCheck(False, str(exc))
    if not path.exists():
        return UrlCheck(True, f"{path} does not exist yet: Closeout will create it.")
    engine = create_engine(f"sqlite:///{path}", poolclass=NullPool)
    try:
        with engine.connect() as connection:
            if not inspect(connection).has_table(VERSION_TABLE.name):
                if inspect(connection).get_table_names():
                    return UrlCheck(False, f"{path} holds other tables, not Closeout's: use a file of its own.")
                return UrlCheck(True, f"{path} is empty: Closeout will set it up.")
            current = connection.execute(select(VERSION_TABLE.c.version_num)).scalar()
            if current not in known_revisions():
                raise too_new(connection, str(current))
        return UrlCheck(True, f"{path}: Closeout's data, at schema {current}.", current)
    except StorageError as exc:
        return UrlCheck(False, str(exc))
    except DBAPIError as exc:
        return UrlCheck(False, f"{path} cannot be used: {exc.orig}.")
    finally:
        engine.dispose()


def postgres_driver() -> str | None:
    """The driver shared mode uses and its libpq, e.g. "psycopg 3.3.9 (binary, libpq 170005)"; None if absent."""
    try:
        import psycopg
    except ImportError:
        return None
    make_url("postgresql+psycopg://check/closeout").get_dialect()  # SQLAlchemy's dialect for it loads too
    return f"psycopg {psycopg.__version__} ({psycopg.pq.__impl__}, libpq {psycopg.pq.version()})"
