"""Every released schema version opens and upgrades, and the migrations build exactly the models' schema."""

from __future__ import annotations

import shutil
import subprocess
import sys
from pathlib import Path

import pytest
from alembic.autogenerate import compare_metadata
from alembic.runtime.migration import MigrationContext
from sqlalchemy import create_engine

from app.domain.workflows import WorkflowState
from app.storage.database import SCHEMA_HEAD, head_revision, schema_revision, upgrade_with_alembic
from app.storage.history import HistoryFilter
from app.storage.models import Base
from app.storage.store import Store

FIXTURES = sorted((Path(__file__).resolve().parents[1] / "fixtures").glob("schema_*.sqlite"))


def test_there_is_a_fixture_for_the_current_schema() -> None:
    assert f"schema_{head_revision()}.sqlite" in {f.name for f in FIXTURES}


@pytest.mark.parametrize("fixture", FIXTURES, ids=lambda p: p.stem)
def test_each_released_schema_opens_upgrades_and_keeps_its_data(fixture: Path, tmp_path: Path) -> None:
    copy = tmp_path / fixture.name
    shutil.copy(fixture, copy)

    store = Store.open(f"sqlite:///{copy}")
    try:
        assert schema_revision(store.db.engine) == head_revision()
        (workflow,) = store.workflows.all()
        assert workflow.state is WorkflowState.PUBLISHED
        assert store.history.count(HistoryFilter()) == 10
        assert store.closes.count() == 10
        assert store.outbox.depth() == 10
        assert [a.name for a in store.cache.agents()] == ["Maya Lee"]
        assert store.meta.get("last_poll_at") is not None
    finally:
        store.close()


def test_the_schema_head_constant_is_the_newest_migration() -> None:
    assert head_revision() == SCHEMA_HEAD


def test_migrations_build_the_schema_the_models_describe(tmp_path: Path) -> None:
    engine = create_engine(f"sqlite:///{tmp_path / 'migrated.sqlite3'}")
    try:
        with engine.begin() as connection:
            upgrade_with_alembic(connection, None)
        with engine.connect() as connection:
            context = MigrationContext.configure(connection, opts={"compare_type": True})
            assert context.get_current_revision() == SCHEMA_HEAD
            assert compare_metadata(context, Base.metadata) == []
    finally:
        engine.dispose()


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
