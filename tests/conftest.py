"""Test harness: offscreen Qt, one asyncio loop per test (qasync for GUI tests), and an isolated home."""

from __future__ import annotations

import asyncio
import logging
import os
from collections.abc import Callable, Iterator, Mapping
from pathlib import Path

os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")
os.environ.setdefault("QT_API", "pyside6")

import keyring
import pytest
from keyring.backend import KeyringBackend

from tests import pg
from tests.pg import PgServer

GUI_DIR = Path(__file__).parent / "gui"


class MemoryKeyring(KeyringBackend):
    """A keyring that lives in memory, so tests never touch the machine's real one."""

    priority = 1  # type: ignore[assignment]

    def __init__(self) -> None:
        super().__init__()
        self.items: dict[tuple[str, str], str] = {}

    def get_password(self, service: str, username: str) -> str | None:
        return self.items.get((service, username))

    def set_password(self, service: str, username: str, password: str) -> None:
        self.items[(service, username)] = password

    def delete_password(self, service: str, username: str) -> None:
        self.items.pop((service, username), None)


def _is_gui(path: Path) -> bool:
    return GUI_DIR in path.parents


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    """Mark every test under tests/gui as `gui`, so `-m "not gui"` runs the rest without Qt."""
    for item in items:
        if _is_gui(item.path):
            item.add_marker(pytest.mark.gui)


def pytest_asyncio_loop_factories(config: pytest.Config, item: pytest.Item) -> Mapping[str, Callable[[], object]]:
    """GUI tests run on a qasync loop, so Qt timers and asyncio tasks share one loop; the rest on plain asyncio."""
    if _is_gui(item.path):
        import qasync
        from PySide6.QtWidgets import QApplication

        def qasync_loop() -> asyncio.AbstractEventLoop:
            app = QApplication.instance() or QApplication([])
            return qasync.QEventLoop(app)

        return {"qasync": qasync_loop}
    return {"asyncio": asyncio.new_event_loop}


@pytest.fixture(autouse=True)
def isolated_home(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[Path]:
    """Point every Closeout path into the test's temp dir and clear settings from the developer's shell."""
    home = tmp_path / "closeout-home"
    monkeypatch.setenv("CLOSEOUT_HOME", str(home))
    for name in list(os.environ):
        if name.startswith("CLOSEOUT_") and name != "CLOSEOUT_HOME" and not name.startswith("CLOSEOUT_TEST_"):
            monkeypatch.delenv(name)
    previous = keyring.get_keyring()
    keyring.set_keyring(MemoryKeyring())
    yield home
    keyring.set_keyring(previous)


class LogFailHandler(logging.Handler):
    """Collects every log record at ERROR or above, so a test that logged one unexpectedly fails.

    A background task that dies, a write that fails, a bug caught by a catch-all: each logs at ERROR, and
    none of them must pass unnoticed. A test that provokes such a record on purpose says so with
    `@pytest.mark.log_errors_expected`.
    """

    def __init__(self) -> None:
        super().__init__(level=logging.ERROR)
        self.records: list[logging.LogRecord] = []

    def emit(self, record: logging.LogRecord) -> None:
        self.records.append(record)


@pytest.fixture(autouse=True)
def fail_on_logged_errors(request: pytest.FixtureRequest) -> Iterator[None]:
    """Fail the test when anything logged at ERROR or above during it, unless it is marked as expecting that."""
    handler = LogFailHandler()
    root = logging.getLogger()
    root.addHandler(handler)
    try:
        yield
    finally:
        root.removeHandler(handler)
    if handler.records and request.node.get_closest_marker("log_errors_expected") is None:
        lines = "\n".join(f"{r.name} {r.levelname}: {r.getMessage()}" for r in handler.records[:10])
        pytest.fail(f"unexpected log records at ERROR or above:\n{lines}", pytrace=False)


BACKENDS = ("sqlite", pytest.param("postgres", marks=pytest.mark.postgres))


def pytest_generate_tests(metafunc: pytest.Metafunc) -> None:
    """Run every test that uses `backend` (through `db_url`, `store`, `rig`...) on SQLite and on PostgreSQL.

    A test about SQLite itself (its files, its locks) says `@pytest.mark.sqlite_only` and runs once.
    """
    if "backend" in metafunc.fixturenames and metafunc.definition.get_closest_marker("sqlite_only") is None:
        metafunc.parametrize("backend", BACKENDS, indirect=True)


@pytest.fixture(scope="session")
def pg_server() -> Iterator[PgServer]:
    """One PostgreSQL server for the whole run (see tests/pg.py); skips, or fails in CI, without PostgreSQL."""
    with pg.start() as server:
        yield server


@pytest.fixture
def own_cluster(pg_server: PgServer) -> Iterator[pg.Cluster]:
    """A PostgreSQL cluster of the test's own, which it may stop and start; skips where the run's server was given."""
    bin_dir = pg.find_bin_dir()
    if bin_dir is None:
        pytest.skip("the test server was given by CLOSEOUT_TEST_PG_URL: no cluster of its own to stop")
    with pg.cluster(bin_dir) as server:
        yield server


@pytest.fixture
def backend(request: pytest.FixtureRequest) -> str:
    """Which database the test runs on: "sqlite" or "postgres"."""
    return str(getattr(request, "param", "sqlite"))


@pytest.fixture
def db_url(request: pytest.FixtureRequest, backend: str, tmp_path: Path) -> str:
    """A fresh database at the current schema, holding no data: a SQLite file, or a new PostgreSQL database."""
    if backend == "postgres":
        server: PgServer = request.getfixturevalue("pg_server")
        return server.new_database()
    return f"sqlite:///{tmp_path / 'closeout.sqlite3'}"


@pytest.fixture
def empty_db_url(request: pytest.FixtureRequest, backend: str, tmp_path: Path) -> str:
    """A database with no tables at all, on the test's backend."""
    if backend == "postgres":
        server: PgServer = request.getfixturevalue("pg_server")
        return server.new_database(template="template0")
    return f"sqlite:///{tmp_path / 'empty.sqlite3'}"
