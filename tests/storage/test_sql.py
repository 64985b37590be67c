"""Statements compiled once from the models and run by the driver, on both dialects."""

from __future__ import annotations

import pytest
from sqlalchemy import bindparam, insert, select

from app.storage import sql
from app.storage.models import AGENTS
from app.storage.store import Store

_ADD = sql.Statement(lambda: insert(AGENTS).values(id=bindparam("id"), first_name=bindparam("first")))
_NAMED = sql.Statement(
    lambda count: (
        select(AGENTS.c.id, AGENTS.c.first_name, AGENTS.c.online, AGENTS.c.role)
        .where(sql.one_of(AGENTS.c.id, "id", count), AGENTS.c.role == "agent")
        .order_by(AGENTS.c.id)
    )
)


def test_a_statement_takes_defaults_and_constants_and_compiles_once_per_list_shape_padded_to_a_power_of_two(
    store: Store,
) -> None:
    with store.db.sessions.begin() as session:
        _ADD.run(session, [{"id": 1, "first": "Ana"}, {"id": 2, "first": "Bo"}, {"id": 3, "first": "Cy"}])
        three = _NAMED.run(session, sql.listed("id", [3, 1, 3]), sql.slots(3)).all()  # four slots, one repeated
        none = _NAMED.run(session, {}, sql.slots(0)).all()
        four = _NAMED.run(session, sql.listed("id", [2, 1, 9, 2]), sql.slots(4)).all()

    assert [tuple(row) for row in three] == [(1, "Ana", False, "agent"), (3, "Cy", False, "agent")]
    assert none == []
    assert [row[0] for row in four] == [1, 2]
    dialect = store.db.engine.dialect
    assert {key for key in _NAMED._compiled if key[0] == dialect.name} == {
        (dialect.name, dialect.driver, 4),
        (dialect.name, dialect.driver, 0),
    }


def test_a_statement_the_driver_could_not_take_as_it_is_is_refused_in_words(store: Store) -> None:
    expanding = sql.Statement(lambda: select(AGENTS.c.id).where(AGENTS.c.id.in_([1, 2])))
    with store.db.sessions() as session, pytest.raises(ValueError, match="plain placeholders"):
        expanding.run(session)
