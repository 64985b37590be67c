"""A throwaway PostgreSQL server for the tests: `initdb` in a temp dir, `pg_ctl start` on a free loopback port.

One server runs per test run; each test that asks for one gets its own database, cloned from a template that
is already at the current schema (a clone takes milliseconds; migrating takes much longer). With
`CLOSEOUT_TEST_PG_URL` set (a superuser's URL), that server is used instead and nothing is started.
"""

from __future__ import annotations

import contextlib
import glob
import itertools
import os
import secrets
import shutil
import subprocess
import tempfile
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

import pytest
from sqlalchemy import Engine, create_engine, text
from sqlalchemy.engine import URL, make_url

from tests.loopback import free_port

INSTALL_HINT = (
    "PostgreSQL is not installed: install it (`sudo apt-get install postgresql`, or `brew install postgresql` "
    "on a Mac) and run the tests again, or point CLOSEOUT_TEST_PG_URL at a PostgreSQL superuser's URL"
)
SUPERUSER = "closeout"
TEMPLATE = "closeout_template"
# A test server loses nothing that matters when it crashes: skipping the disk flushes makes it several times faster.
FAST = ("fsync=off", "synchronous_commit=off", "full_page_writes=off", "max_connections=200")


def required() -> bool:
    """True when a missing PostgreSQL must fail the run rather than skip its tests (CI, or `.ci/run`)."""
    return bool(os.environ.get("CI")) or bool(os.environ.get("CLOSEOUT_TEST_REQUIRE_PG"))


def find_bin_dir() -> Path | None:
    """The folder holding initdb and pg_ctl: on PATH, or Debian's /usr/lib/postgresql/N/bin (newest N)."""
    on_path = shutil.which("initdb")
    if on_path:
        return Path(on_path).parent
    found = sorted(
        glob.glob("/usr/lib/postgresql/*/bin/initdb"), key=lambda p: int(Path(p).parts[-3]) if p else 0, reverse=True
    )
    return Path(found[0]).parent if found else None


@dataclass
class PgServer:
    """A running server and a superuser's URL on it."""

    admin: URL
    _names: Iterator[int] = field(default_factory=itertools.count)
    _admin: Engine | None = None

    def url(self, database: str, *, user: str | None = None, password: str | None = None) -> str:
        """The SQLAlchemy URL of `database` on this server (as the superuser unless told otherwise)."""
        url = self.admin.set(database=database)
        if user is not None:
            url = url.set(username=user, password=password)
        return url.render_as_string(hide_password=False)

    def execute(self, *statements: str) -> None:
        """Run statements as the superuser outside a transaction (CREATE DATABASE cannot run inside one)."""
        if self._admin is None:  # one connection for the run: a new one costs a password exchange each time
            self._admin = create_engine(self.url("postgres"), isolation_level="AUTOCOMMIT", pool_size=1)
        with self._admin.connect() as connection:
            for statement in statements:
                connection.execute(text(statement))

    def new_database(self, *, template: str = TEMPLATE) -> str:
        """A new database cloned from `template` (the current schema, or `template0` for an empty one); its URL."""
        name = f"closeout_test_{os.getpid()}_{next(self._names)}"
        self.execute(f'CREATE DATABASE "{name}" TEMPLATE "{template}"')
        return self.url(name)

    def close(self) -> None:
        """Release the superuser's connection."""
        if self._admin is not None:
            self._admin.dispose()


def runner_pid(url: str) -> int | None:
    """The pid holding the runner lease on the database at `url`, read as any SQL tool would; None when free."""
    import time

    engine = create_engine(url)
    try:
        with engine.connect() as connection:
            row = connection.execute(text("SELECT pid, until FROM leases WHERE name = 'runner'")).first()
    finally:
        engine.dispose()
    return None if row is None or row[1] < time.time() else int(row[0])


def _as_postgres(command: list[str]) -> list[str]:
    """initdb refuses to run as root: as root, the server's commands run as the `postgres` user."""
    if os.geteuid() == 0:
        return ["runuser", "-u", "postgres", "--", *command]
    return command


@dataclass
class Cluster:
    """A cluster of one's own in a temp dir: its URL, and `stop`/`start` for a test of the server going away."""

    bin_dir: Path
    data: Path
    options: str
    log_file: Path
    admin: URL

    @property
    def _start(self) -> list[str]:
        return ["-w", "-o", self.options, "start"]

    def start(self) -> None:
        """Start the server (again) on its port; raise with its log when it will not."""
        started = subprocess.run(
            _as_postgres([str(self.bin_dir / "pg_ctl"), "-D", str(self.data), "-l", str(self.log_file), *self._start]),
            capture_output=True,
            text=True,
            check=False,
        )
        if started.returncode != 0:
            log = self.log_file.read_text(encoding="utf-8", errors="replace") if self.log_file.exists() else ""
            raise RuntimeError(f"pg_ctl start failed: {started.stdout}{started.stderr}\n{log}")

    def stop(self, mode: str = "immediate") -> None:
        """Stop the server; every connection to it drops."""
        subprocess.run(
            _as_postgres([str(self.bin_dir / "pg_ctl"), "-D", str(self.data), "-m", mode, "-w", "stop"]),
            capture_output=True,
            check=False,
        )


@contextlib.contextmanager
def cluster(bin_dir: Path) -> Iterator[Cluster]:
    """Start a fresh cluster in a temp dir on a free loopback port; stop it and remove the dir at the end."""
    root = Path(tempfile.mkdtemp(prefix="closeout-pg-"))
    password = secrets.token_hex(12)
    try:
        if os.geteuid() == 0:
            shutil.chown(root, "postgres")
        data, sockets, pwfile = root / "data", root / "sockets", root / "pwfile"
        sockets.mkdir()
        pwfile.write_text(password + "\n", encoding="utf-8")
        if os.geteuid() == 0:
            for path in (sockets, pwfile):
                shutil.chown(path, "postgres")
        subprocess.run(
            _as_postgres(
                [
                    str(bin_dir / "initdb"),
                    "-D",
                    str(data),
                    "-U",
                    SUPERUSER,
                    f"--pwfile={pwfile}",
                    "--auth-host=scram-sha-256",
                    "--auth-local=trust",
                    "--encoding=UTF8",
                    "--locale=C",
                    "--no-sync",
                ]
            ),
            check=True,
            capture_output=True,
        )
        port = free_port()
        options = " ".join(
            ["-c listen_addresses=127.0.0.1", f"-p {port}", f"-c unix_socket_directories={sockets}"]
            + [f"-c {option}" for option in FAST]
        )
        admin = URL.create("postgresql+psycopg", SUPERUSER, password, "127.0.0.1", port, "postgres")
        server = Cluster(bin_dir, data, options, root / "server.log", admin)
        server.start()
        try:
            yield server
        finally:
            server.stop()
    finally:
        shutil.rmtree(root, ignore_errors=True)


@contextlib.contextmanager
def local_server(bin_dir: Path) -> Iterator[URL]:
    """A fresh cluster's superuser URL (see `cluster`)."""
    with cluster(bin_dir) as server:
        yield server.admin


@contextlib.contextmanager
def start() -> Iterator[PgServer]:
    """The test server with a template database at the current schema; skips (fails in CI) without PostgreSQL."""
    given = os.environ.get("CLOSEOUT_TEST_PG_URL")
    missing = None
    try:
        import psycopg  # noqa: F401
    except ImportError:
        missing = "psycopg is not installed: `pip install -e '.[dev]'` brings it (the `postgres` extra)"
    bin_dir = find_bin_dir()
    if missing is None and not given and bin_dir is None:
        missing = INSTALL_HINT
    if missing is not None:
        if required():
            pytest.fail(f"the postgres tests must run here: {missing}", pytrace=False)
        pytest.skip(missing)
    with contextlib.ExitStack() as stack:
        if given:
            admin = make_url(given).set(database="postgres")
        else:
            assert bin_dir is not None
            admin = stack.enter_context(local_server(bin_dir))
        server = PgServer(admin)
        stack.callback(server.close)
        from app.storage.store import Store

        server.execute(f'DROP DATABASE IF EXISTS "{TEMPLATE}"', f'CREATE DATABASE "{TEMPLATE}"')
        Store.open(server.url(TEMPLATE)).close()
        yield server
