"""Every released schema version opens and upgrades, and the migrations build exactly the models' schema."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest
from alembic.autogenerate import compare_metadata
from alembic.runtime.migration import MigrationContext

from app.domain.workflows import WorkflowState
from app.storage.database import head_revision, schema_revision
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


def test_migrations_build_the_schema_the_models_describe(store: Store) -> None:
    with store.db.engine.connect() as connection:
        context = MigrationContext.configure(connection, opts={"compare_type": True})
        assert compare_metadata(context, Base.metadata) == []
