"""Opening the database: checks, pragmas, migrations, and the one writer thread.

SQLite runs in WAL mode, so readers never wait for the writer, with `synchronous=NORMAL`: a committed
transaction survives a killed process (it is in the WAL); only a power cut can lose the last few.
Every write goes through one single-worker executor, so writes happen in order and never contend
with each other; reads have their own small pool so a long history query never delays a commit.
"""

from __future__ import annotations

import asyncio
import functools
import logging
import os
import shutil
import sqlite3
import threading
import time
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import TYPE_CHECKING, Any, ParamSpec, TypeVar

from sqlalchemy import (
    Column,
    Connection,
    MetaData,
    PrimaryKeyConstraint,
    String,
    Table,
    create_engine,
    delete,
    event,
    insert,
    inspect,
    select,
)
from sqlalchemy.engine import Engine, make_url
from sqlalchemy.exc import DBAPIError
from sqlalchemy.orm import Session, sessionmaker

from app import paths, portable
from app.domain.errors import (
    DatabaseCorrupt,
    DatabaseLocked,
    DatabaseReadOnly,
    DiskFull,
    SchemaTooNew,
    StorageError,
)
from app.storage.models import META, Base

if TYPE_CHECKING:
    from alembic.config import Config

log = logging.getLogger("closeout.storage")

P = ParamSpec("P")
T = TypeVar("T")

SQLITE_MAGIC = b"SQLite format 3\x00"
MIGRATIONS = Path(__file__).parent / "migrations"
# The newest migration in MIGRATIONS (a test checks that they agree). A database already at it, or a new one,
# opens without loading Alembic, which costs a third of a second of start-up; older ones are upgraded by Alembic.
SCHEMA_HEAD = "0002"
# Alembic's own record of the schema version, as Alembic creates it (name, column, constraint).
VERSION_TABLE = Table(
    "alembic_version",
    MetaData(),
    Column("version_num", String(32), nullable=False),
    PrimaryKeyConstraint("version_num", name="alembic_version_pkc"),
)
# The meta key naming the Closeout that migrated the schema last (what an older one asks the lead to install).
SCHEMA_NEEDS = "schema_written_by_closeout"
BUSY_TIMEOUT_MS = 5000
LOCKED_RETRIES = 3
# Each connection's page cache, taken only as pages are read. SQLite's default of 2 MiB holds a sliver of the
# eight history indexes once there are a million changes, so a bulk insert kept re-reading index pages from
# the OS: 64 MiB made it 1.3-1.8x faster, and the export's contact lookups about 1.2x (benchmarks/history_store.py).
CACHE_KIB = 64 * 1024
# The key of the PostgreSQL advisory lock every write transaction takes (see `_create_postgres_engine`):
# "Closeout" in ASCII, so a DBA who finds it in pg_locks can tell whose it is.
PG_WRITE_LOCK = int.from_bytes(b"Closeout", "big") & 0x7FFF_FFFF_FFFF_FFFF
# The PostgreSQL channel every transaction that wrote something notifies at commit, with its transaction id as
# the payload (what changed is read from the tables, never sent): how a watching window hears of a commit at once.
PG_CHANGES_CHANNEL = "closeout_changes"


def default_url() -> str:
    """The SQLite file in the data folder."""
    return f"sqlite:///{paths.database_path()}"


def translate(exc: BaseException, where: str) -> StorageError | None:
    """The StorageError a person should see for a database failure, or None if it is a bug, not the environment."""
    message = str(getattr(exc, "orig", exc) or exc).lower()
    if isinstance(exc, PermissionError) or "readonly" in message or "read-only" in message:
        return DatabaseReadOnly(f"The database at {where} cannot be written.")
    if "unable to open database" in message:
        return DatabaseReadOnly(f"The database at {where} cannot be opened or created.")
    if "disk is full" in message or "no space left" in message or getattr(exc, "errno", None) == 28:
        return DiskFull(f"The disk holding {where} is full.")
    if "disk i/o error" in message:
        # SQLite says this when a write fails for want of room in its WAL file, as well as on a failing disk.
        return DiskFull(
            f"Closeout could not write to the disk holding {where} (a disk I/O error): it may be full or failing.",
            "Free some disk space or check the disk; nothing committed was lost.",
        )
    if "locked" in message or "busy" in message:
        return DatabaseLocked(f"The database at {where} is busy in another program.")
    if "not a database" in message or "malformed" in message or "encrypted" in message:
        return DatabaseCorrupt(where, "not a valid SQLite database")
    return _translate_server(message, where)


# What a database server (PostgreSQL, through psycopg) says when it cannot be reached or refuses us.
_UNREACHABLE = (
    "connection refused",
    "could not connect",
    "server closed the connection",
    "terminating connection",
    "connection timeout",
    "timeout expired",
    "could not translate host name",
    "the database system is shutting down",
    "the database system is starting up",
    "consuming input failed",
    "connection is closed",
)
_CHECK_URL = "`closeout-cli db test --url URL` says what is wrong with a database URL."


def _translate_server(message: str, where: str) -> StorageError | None:
    first = message.strip().splitlines()[0] if message.strip() else message
    if any(words in message for words in _UNREACHABLE):
        return StorageError(
            f"The database at {where} cannot be reached ({first}).",
            "Check that the database server runs and that this computer can reach it; nothing was lost.",
        )
    if "password authentication failed" in message or "no password supplied" in message:
        return StorageError(f"The database at {where} refused the password.", f"Correct the URL. {_CHECK_URL}")
    if 'database "' in message and "does not exist" in message:
        return StorageError(f"The database at {where} does not exist on its server.", f"Create it. {_CHECK_URL}")
    if "permission denied" in message:
        return DatabaseReadOnly(f"The database at {where} refuses this user ({first}).", _CHECK_URL)
    return None


class Database:
    """An open database: an engine, a session factory, and the writer and reader threads."""

    def __init__(self, engine: Engine, where: str) -> None:
        """Use `Database.open`; this only keeps what it was given."""
        self.engine = engine
        self.where = where
        self.sessions: sessionmaker[Session] = sessionmaker(engine, expire_on_commit=False)
        self._writer = ThreadPoolExecutor(max_workers=1, thread_name_prefix="closeout-db-writer")
        self._readers = ThreadPoolExecutor(
            max_workers=2, thread_name_prefix="closeout-db-reader", initializer=_mark_reader_thread
        )

    @classmethod
    def open(cls, url: str | None = None, *, busy_timeout_ms: int = BUSY_TIMEOUT_MS) -> Database:
        """Open (creating if needed) and migrate the database at `url`; environment problems raise StorageError.

        A file that is not a SQLite database is never touched: DatabaseCorrupt names it, and
        `move_aside` can rename it so a fresh database can start.
        """
        url = url or default_url()
        parsed = make_url(url)
        sqlite_path: Path | None = None
        if parsed.get_backend_name() == "sqlite" and parsed.database not in (None, "", ":memory:"):
            sqlite_path = Path(str(parsed.database)).expanduser()
            where = str(sqlite_path)
            check_sqlite_file(sqlite_path)
        else:
            where = parsed.render_as_string(hide_password=True)
        engine = _create_engine(url, busy_timeout_ms)
        try:
            _with_retries(lambda: _migrate(engine), where)
        except BaseException:
            engine.dispose()
            raise
        return cls(engine, where)

    async def write(self, fn: Callable[P, T], *args: P.args, **kwargs: P.kwargs) -> T:
        """Run `fn` on the writer thread, retrying while the file is locked; environment errors become StorageError."""
        call = functools.partial(_with_retries, functools.partial(fn, *args, **kwargs), self.where)
        return await asyncio.get_running_loop().run_in_executor(self._writer, call)

    async def read(self, fn: Callable[P, T], *args: P.args, **kwargs: P.kwargs) -> T:
        """Run a read-only `fn` on a reader thread, off the event loop."""
        call = functools.partial(_with_retries, functools.partial(fn, *args, **kwargs), self.where)
        return await asyncio.get_running_loop().run_in_executor(self._readers, call)

    def close(self) -> None:
        """Finish queued writes, then release the connections."""
        self._writer.shutdown(wait=True)
        self._readers.shutdown(wait=True)
        self.engine.dispose()


def move_aside(path: Path) -> Path:
    """Rename an unreadable database (and its WAL files) out of the way, keeping it for recovery."""
    stamp = portable.file_time_stamp()
    target = path.with_name(f"{path.name}.unreadable-{stamp}")
    for suffix in ("", "-wal", "-shm"):
        source = Path(str(path) + suffix)
        if source.exists():
            shutil.move(source, Path(str(target) + suffix))
    log.warning("moved the unreadable database %s aside to %s", path, target)
    return target


def check_sqlite_file(path: Path) -> None:
    """Refuse, in words, a path that is not a writable SQLite file (or a place where one can be created)."""
    where = str(path)
    try:
        paths.ensure_dir(path.parent)
    except OSError as exc:
        raise translate(exc, where) or DatabaseReadOnly(f"The folder for {where} cannot be created.") from exc
    if path.is_dir():
        raise DatabaseCorrupt(where, "it is a folder")
    try:
        with path.open("rb") as handle:
            header = handle.read(len(SQLITE_MAGIC))
    except FileNotFoundError:
        return
    except OSError as exc:
        raise translate(exc, where) or DatabaseReadOnly(f"The database at {where} cannot be read.") from exc
    if header and header != SQLITE_MAGIC:
        raise DatabaseCorrupt(where, "it is not an SQLite file")
    if not os.access(path.parent, os.W_OK) or not os.access(path, os.W_OK):
        raise DatabaseReadOnly(f"The database at {where} cannot be written.")


# Which threads only read: their transactions begin DEFERRED, so a history query never waits on the writer.
_THREAD_ROLE = threading.local()


def _mark_reader_thread() -> None:
    _THREAD_ROLE.reader = True


def begin_reading(connection: Connection) -> None:
    """Begin a read-only transaction on `connection` from any thread: no write lock, one consistent snapshot.

    On SQLite that is a DEFERRED transaction (WAL gives it a snapshot at its first read); on PostgreSQL,
    REPEATABLE READ, READ ONLY, without the writers' advisory lock. A long read (a copy of the whole database)
    thus never holds up the processes that write meanwhile.
    """
    if connection.dialect.name == "postgresql":
        connection.execution_options(isolation_level="REPEATABLE READ", postgresql_readonly=True)
    was_reader = getattr(_THREAD_ROLE, "reader", False)
    _THREAD_ROLE.reader = True
    try:
        connection.begin()
    finally:
        _THREAD_ROLE.reader = was_reader


def _create_engine(url: str, busy_timeout_ms: int) -> Engine:
    if make_url(url).get_backend_name() == "postgresql":
        return _create_postgres_engine(url)
    if make_url(url).get_backend_name() != "sqlite":
        return create_engine(url, pool_pre_ping=True)
    engine = create_engine(url, connect_args={"timeout": busy_timeout_ms / 1000, "check_same_thread": False})

    # SQLAlchemy's documented pysqlite recipe ("Serializable isolation / Savepoints / Transactional DDL"): the
    # driver's own transaction handling is switched off, and SQLAlchemy's begin emits the BEGIN itself. pysqlite
    # would otherwise begin only at the first write, so a read-then-update (a claim, a conditional settle) would
    # read outside the transaction it then writes in. Every transaction off the reader threads is IMMEDIATE: it
    # takes the write lock before its first read, so what it reads is still true when it writes.
    @event.listens_for(engine, "begin")
    def _begin(connection: Connection) -> None:
        mode = "DEFERRED" if getattr(_THREAD_ROLE, "reader", False) else "IMMEDIATE"
        connection.exec_driver_sql(f"BEGIN {mode}")

    @event.listens_for(engine, "connect")
    def _pragmas(dbapi_connection: sqlite3.Connection, _record: object) -> None:
        dbapi_connection.isolation_level = None
        cursor = dbapi_connection.cursor()
        cursor.execute("PRAGMA journal_mode=WAL")
        cursor.execute("PRAGMA synchronous=NORMAL")
        cursor.execute(f"PRAGMA busy_timeout={busy_timeout_ms}")
        cursor.execute("PRAGMA temp_store=MEMORY")
        cursor.execute(f"PRAGMA cache_size=-{CACHE_KIB}")
        cursor.close()

    return engine


def _create_postgres_engine(url: str) -> Engine:
    """PostgreSQL, with the same write discipline as SQLite's BEGIN IMMEDIATE.

    Every transaction off the reader threads first takes one transaction-scoped advisory lock, so writers
    across every process on the database take turns, as SQLite's write lock makes them: a claim, a
    conditional settle, an intake's duplicate check then insert, a lease's read then renew all see, at READ
    COMMITTED, every commit made before they began and none made while they run. PostgreSQL releases the
    lock at commit or rollback, and when a holder's connection dies. Readers take no lock and never wait.
    """
    engine = create_engine(url, pool_pre_ping=True)

    @event.listens_for(engine, "begin")
    def _begin(connection: Connection) -> None:
        if not getattr(_THREAD_ROLE, "reader", False):
            connection.exec_driver_sql(f"SELECT pg_advisory_xact_lock({PG_WRITE_LOCK})")

    # PostgreSQL compiles a query with JIT once its estimated cost is high, which a 90-day chart's count over a
    # million rows reaches: 75 ms of its 290 (EXPLAIN ANALYZE, benchmarks/shared_mode.py) went to compiling.
    # Closeout's queries all read through indexes and end in milliseconds, where JIT only adds its cost.
    @event.listens_for(engine, "connect")
    def _no_jit(dbapi_connection: Any, _record: object) -> None:
        autocommit = dbapi_connection.autocommit
        dbapi_connection.autocommit = True  # a SET outside any transaction, so it lasts for the connection
        dbapi_connection.execute("SET jit = off")
        dbapi_connection.autocommit = autocommit

    # Sent inside the transaction, just before its COMMIT: PostgreSQL delivers it when, and only if, the commit
    # lands. A transaction that wrote nothing has no transaction id yet and notifies nobody.
    @event.listens_for(engine, "commit")
    def _notify(connection: Connection) -> None:
        driver = connection.connection.driver_connection
        assert driver is not None
        driver.execute(
            "SELECT pg_notify(%s, txid_current_if_assigned()::text) WHERE txid_current_if_assigned() IS NOT NULL",
            (PG_CHANGES_CHANNEL,),
        )

    return engine


def _alembic_config() -> Config:
    from alembic.config import Config

    config = Config()
    config.set_main_option("script_location", str(MIGRATIONS))
    return config


def head_revision() -> str:
    """The newest migration, as Alembic reads it from the migration scripts."""
    from alembic.script import ScriptDirectory

    head = ScriptDirectory.from_config(_alembic_config()).get_current_head()
    assert head is not None
    return head


def _stored_revision(connection: Connection) -> str | None:
    if not inspect(connection).has_table(VERSION_TABLE.name):
        return None
    return connection.execute(VERSION_TABLE.select()).scalar()


def _migrate(engine: Engine) -> None:
    """Bring the schema to SCHEMA_HEAD, in one transaction.

    A database with no tables at all is built from the models and stamped with SCHEMA_HEAD, as Alembic's
    cookbook does for a fresh install (the models and the migrations build the same schema: a test compares
    them); anything else goes through Alembic. On PostgreSQL the transaction first takes the writers'
    advisory lock (see `_create_postgres_engine`): of two apps starting at once, one migrates while the
    other waits, and the other then finds the schema current.
    """
    with engine.begin() as connection:
        current = _stored_revision(connection)
        if current == SCHEMA_HEAD:
            return
        if current is None and not inspect(connection).get_table_names():
            log.info("creating a new database at schema %s", SCHEMA_HEAD)
            Base.metadata.create_all(connection)
            VERSION_TABLE.create(connection)
            connection.execute(VERSION_TABLE.insert().values(version_num=SCHEMA_HEAD))
        else:
            upgrade_with_alembic(connection, current)
        _record_migrating_version(connection)


def upgrade_with_alembic(connection: Connection, current: str | None, target: str = "head") -> None:
    """Run the migrations from `current` (None: an empty database) to `target`, on `connection`."""
    from alembic import command

    config = _alembic_config()
    if current is not None and current not in known_revisions():
        raise too_new(connection, current)
    log.info("migrating the database from schema %s to %s", current, target)
    config.attributes["connection"] = connection
    command.upgrade(config, target)


def known_revisions() -> set[str]:
    """Every schema version this Closeout's migrations know."""
    from alembic.script import ScriptDirectory

    return {rev.revision for rev in ScriptDirectory.from_config(_alembic_config()).walk_revisions()}


def app_version() -> str:
    """This Closeout's version, from its package metadata (the frozen bundle carries it too)."""
    import importlib.metadata  # here, not at start-up: only a migration or a refusal needs it

    try:
        return importlib.metadata.version("closeout")
    except importlib.metadata.PackageNotFoundError:
        return "unknown"


def _record_migrating_version(connection: Connection) -> None:
    """Remember which Closeout brought the schema to its version: an older one names it when it refuses."""
    connection.execute(delete(META).where(META.c.key == SCHEMA_NEEDS))
    connection.execute(insert(META).values(key=SCHEMA_NEEDS, value=app_version()))


def too_new(connection: Connection, current: str) -> SchemaTooNew:
    """The refusal of a schema newer than this Closeout, naming the version that wrote it when it is recorded."""
    needed = connection.execute(select(META.c.value).where(META.c.key == SCHEMA_NEEDS)).scalar()
    install = f"Closeout {needed} or newer" if needed else "the newest Closeout"
    return SchemaTooNew(
        f"The database uses schema {current}, from a newer Closeout than this one ({app_version()}); "
        "this version cannot read it or write to it.",
        f"Install {install} to open it, or choose another database in Settings.",
    )


def schema_revision(engine: Engine) -> str | None:
    """The schema version stored in the database."""
    with engine.connect() as connection:
        return _stored_revision(connection)


def _with_retries(fn: Callable[[], T], where: str) -> T:
    """Call `fn`; retry a locked database a few times, and turn environment errors into StorageError."""
    delay = 0.05
    for attempt in range(LOCKED_RETRIES + 1):
        try:
            return fn()
        except (DBAPIError, sqlite3.Error, OSError) as exc:
            error = translate(exc, where)
            if error is None:
                raise
            if isinstance(error, DatabaseLocked) and attempt < LOCKED_RETRIES:
                log.info("database locked, retrying in %.2f s", delay)
                time.sleep(delay)
                delay *= 4
                continue
            raise error from exc
    raise AssertionError("unreachable")  # pragma: no cover


def run_sync(fn: Callable[[], T], where: str) -> T:
    """The same guard as `Database.write`, for callers that are already on a worker thread (the CLI, tests)."""
    return _with_retries(fn, where)


__all__ = [
    "PG_CHANGES_CHANNEL",
    "SCHEMA_HEAD",
    "SCHEMA_NEEDS",
    "Database",
    "app_version",
    "head_revision",
    "move_aside",
    "run_sync",
    "schema_revision",
    "translate",
    "upgrade_with_alembic",
]
