"""Every released schema version opens and upgrades, and the migrations build exactly the models' schema."""

from __future__ import annotations

import shutil
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest
from alembic.autogenerate import compare_metadata
from alembic.runtime.migration import MigrationContext
from sqlalchemy import create_engine

from app.domain.workflows import WorkflowState
from app.storage.copy import copy_rows
from app.storage.database import SCHEMA_HEAD, head_revision, schema_revision, upgrade_with_alembic
from app.storage.history import HistoryFilter
from app.storage.models import Base
from app.storage.store import Store
from tests.factories import close, unassign_plan
from tests.pg import PgServer

ROOT = Path(__file__).resolve().parents[2]
FIXTURES = sorted((Path(__file__).resolve().parents[1] / "fixtures").glob("schema_*.sqlite"))


def test_there_is_a_fixture_for_the_current_schema() -> None:
    assert f"schema_{head_revision()}.sqlite" in {f.name for f in FIXTURES}


@pytest.mark.parametrize("fixture", FIXTURES, ids=lambda p: p.stem)
def test_each_released_schema_opens_upgrades_and_keeps_its_data(fixture: Path, tmp_path: Path) -> None:
    copy = tmp_path / fixture.name
    shutil.copy(fixture, copy)

    store = Store.open(f"sqlite:///{copy}")
    try:
        _assert_the_fixture_data(store)
    finally:
        store.close()


def test_the_schema_head_constant_is_the_newest_migration() -> None:
    assert head_revision() == SCHEMA_HEAD


def test_a_new_database_is_built_from_the_models_and_stamped_as_alembic_would(store: Store) -> None:
    with store.db.engine.connect() as connection:
        context = MigrationContext.configure(connection, opts={"compare_type": True})
        assert context.get_current_revision() == SCHEMA_HEAD
        assert compare_metadata(context, Base.metadata) == []


def test_new_and_current_databases_open_without_loading_alembic(tmp_path: Path) -> None:
    script = (
        "import sys\n"
        "from app.storage.store import Store\n"
        f"url = 'sqlite:///{tmp_path / 'fresh.sqlite3'}'\n"
        "Store.open(url).close()\n"
        "Store.open(url).close()\n"
        "print(sorted(m for m in sys.modules if m.split('.')[0] in ('alembic', 'mako')))\n"
    )
    out = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, check=True).stdout
    assert out.strip() == "[]"


def _assert_the_fixture_data(store: Store) -> None:
    assert schema_revision(store.db.engine) == head_revision()
    (workflow,) = store.workflows.all()
    assert workflow.state is WorkflowState.PUBLISHED
    assert store.history.count(HistoryFilter()) == 10
    assert store.closes.count() == 10
    assert store.outbox.depth() == 10
    assert [a.name for a in store.cache.agents()] == ["Maya Lee"]
    assert store.meta.get("last_poll_at") is not None


@pytest.mark.postgres
@pytest.mark.parametrize("fixture", FIXTURES, ids=lambda p: p.stem)
def test_each_released_schema_migrates_on_postgres_and_keeps_its_data(fixture: Path, pg_server: PgServer) -> None:
    """The fixture's rows, put into a PostgreSQL database at the fixture's schema, come through the upgrade."""
    url = pg_server.new_database(template="template0")
    revision = fixture.stem.removeprefix("schema_")
    source, target = create_engine(f"sqlite:///{fixture}"), create_engine(url)
    try:
        with target.begin() as connection:
            upgrade_with_alembic(connection, None, revision)
        with source.connect() as reading, target.begin() as writing:
            assert copy_rows(reading, writing).total > 0
    finally:
        source.dispose()
        target.dispose()
    store = Store.open(url)
    try:
        _assert_the_fixture_data(store)
        store.plans.commit(unassign_plan(close(999)))  # new rows take ids after the migrated ones
        assert store.closes.count() == 11
    finally:
        store.close()


def test_migrations_build_the_schema_the_models_describe(empty_db_url: str) -> None:
    engine = create_engine(empty_db_url)
    try:
        with engine.begin() as connection:
            upgrade_with_alembic(connection, None)
        with engine.connect() as connection:
            context = MigrationContext.configure(connection, opts={"compare_type": True})
            assert context.get_current_revision() == SCHEMA_HEAD
            assert compare_metadata(context, Base.metadata) == []
    finally:
        engine.dispose()


OPENER = textwrap.dedent(
    """
    import logging, sys
    logging.basicConfig(level=logging.INFO, stream=sys.stdout, format="%(message)s")
    from app.storage.store import Store
    print("ready", flush=True)
    sys.stdin.readline()  # start together
    Store.open(sys.argv[1]).close()
    print("opened", flush=True)
    """
)


@pytest.mark.slow
@pytest.mark.parametrize("start_at", [None, "0001"], ids=["new database", "older schema"])
def test_two_apps_starting_at_once_migrate_once(empty_db_url: str, start_at: str | None) -> None:
    if start_at is not None:
        engine = create_engine(empty_db_url)
        try:
            with engine.begin() as connection:
                upgrade_with_alembic(connection, None, start_at)
        finally:
            engine.dispose()
    children = [
        subprocess.Popen(
            [sys.executable, "-c", OPENER, empty_db_url],
            cwd=ROOT,
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            text=True,
        )
        for _ in range(2)
    ]
    for child in children:
        assert child.stdout is not None and child.stdout.readline() == "ready\n"
    for child in children:
        assert child.stdin is not None
        child.stdin.write("go\n")
        child.stdin.flush()
    outputs = []
    for child in children:
        out, _ = child.communicate(timeout=60)
        assert child.returncode == 0, out
        outputs.append(out)
    said = "".join(outputs)
    assert said.count("opened") == 2
    assert (
        said.count("creating a new database" if start_at is None else f"migrating the database from schema {start_at}")
        == 1
    )
    assert "migrating" not in said if start_at is None else "creating" not in said
