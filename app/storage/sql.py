"""Statements built once from the models with SQLAlchemy Core and sent straight to the driver.

SQLAlchemy builds, keys and compiles a statement on every call, which costs several times what SQLite takes to
run a one-row UPDATE. The statements on the per-close path (plan commits, claiming and settling commands) are
therefore built from the models once, compiled once per dialect (and per shape, such as the length of an IN
list), and the compiled text is handed to the driver with the values in the order it expects. Nothing is
written by hand: the dialect quotes names, picks placeholders and renders what differs (ON CONFLICT, RETURNING,
FOR UPDATE), and the bind processors of the columns' types still run on the values.
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Hashable, Mapping, Sequence
from dataclasses import dataclass
from operator import itemgetter
from typing import Any

from sqlalchemy import ClauseElement, ColumnElement, CursorResult, Executable, Table, bindparam, false
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.engine import Dialect
from sqlalchemy.orm import Session
from sqlalchemy.sql.base import ReadOnlyColumnCollection
from sqlalchemy.sql.compiler import SQLCompiler
from sqlalchemy.sql.elements import KeyedColumnElement

Params = Mapping[str, Any]
Condition = Callable[[Table, ReadOnlyColumnCollection[str, KeyedColumnElement[Any]]], ColumnElement[bool]]
"""A condition on the stored row (the table) and the offered one (`excluded`) of an upsert."""
SHAPES_KEPT = 256
"""Compiled shapes kept per statement: IN lists come in many lengths, and the oldest compiled is dropped first."""


@dataclass(frozen=True, slots=True)
class _Compiled:
    text: str
    values: Callable[[Params], Any]
    """One mapping of values as the driver takes them: a tuple in placeholder order, or a dict of names."""


class Statement:
    """A statement built by `build(*shape)`, compiled once per dialect and shape, and run by the driver."""

    def __init__(self, build: Callable[..., Executable]) -> None:
        """Build with `build`, called with a shape's values the first time that shape runs on a dialect."""
        self._build = build
        self._compiled: dict[tuple[Hashable, ...], _Compiled] = {}
        self._lock = threading.Lock()

    def run(
        self, session: Session, params: Params | Sequence[Params] | None = None, *shape: Hashable
    ) -> CursorResult[*tuple[Any, ...]]:
        """Run in the session's transaction with one mapping of values, or once per mapping of a list of them."""
        connection = session.connection()
        compiled = self._for(connection.dialect, shape)
        if params is None:
            return connection.exec_driver_sql(compiled.text, compiled.values({}))
        if isinstance(params, Mapping):
            return connection.exec_driver_sql(compiled.text, compiled.values(params))
        return connection.exec_driver_sql(compiled.text, [compiled.values(row) for row in params])

    def _for(self, dialect: Dialect, shape: tuple[Hashable, ...]) -> _Compiled:
        key = (dialect.name, dialect.driver, *shape)
        found = self._compiled.get(key)
        if found is None:
            with self._lock:  # the writer and the readers compile from their own threads
                if len(self._compiled) >= SHAPES_KEPT:
                    del self._compiled[next(iter(self._compiled))]
                found = self._compiled[key] = _compile(self._build(*shape), dialect)
        return found


def _compile(statement: Executable, dialect: Dialect) -> _Compiled:
    """The statement's text for `dialect` and the function that puts one mapping of values in the driver's form."""
    assert isinstance(statement, ClauseElement)
    compiled = statement.compile(dialect=dialect)
    assert isinstance(compiled, SQLCompiler)
    text = str(compiled)
    if "POSTCOMPILE" in text or compiled.escaped_bind_names:
        raise ValueError(f"a statement for the driver must have plain placeholders: {text}")
    constants: dict[str, Any] = {}
    processors: dict[str, Callable[[Any], Any]] = {}
    for bind, name in compiled.bind_names.items():
        if bind.callable is not None:
            raise ValueError(f"a statement for the driver cannot compute the value of {name} per row: {text}")
        if not bind.required:
            constants[name] = bind.value
        processor = bind.type.dialect_impl(dialect).bind_processor(dialect)
        if processor is not None:
            processors[name] = processor
    if compiled.update_prefetch:
        raise ValueError(f"a statement for the driver cannot compute values on update: {text}")
    for column in compiled.insert_prefetch:  # a column left out takes the model's default, as Core would give it
        default = column.default
        if default is None or not default.is_scalar:
            raise ValueError(f"a statement for the driver cannot compute the default of {column.key}: {text}")
        constants[column.key] = getattr(default, "arg", None)
    if compiled.positional:
        names = tuple(compiled.positiontup or ())
        return _Compiled(text, _positional(names, constants, processors))
    return _Compiled(text, _named(constants, processors))


def _positional(
    names: tuple[str, ...], constants: dict[str, Any], processors: dict[str, Callable[[Any], Any]]
) -> Callable[[Params], tuple[Any, ...]]:
    if not constants and not processors and len(names) > 1:
        return itemgetter(*names)  # a tuple, for two names or more
    steps = [(name, processors.get(name)) for name in names]

    def values(params: Params) -> tuple[Any, ...]:
        merged = {**constants, **params} if constants else params
        return tuple(merged[name] if p is None else p(merged[name]) for name, p in steps)

    return values


def _named(constants: dict[str, Any], processors: dict[str, Callable[[Any], Any]]) -> Callable[[Params], Params]:
    def values(params: Params) -> Params:
        merged = {**constants, **params}
        for name, processor in processors.items():
            merged[name] = processor(merged[name])
        return merged

    return values


def one_of(column: ColumnElement[Any], name: str, count: int) -> ColumnElement[bool]:
    """`column IN (…)` with `count` placeholders named `name_0`, `name_1`, … (see `slots`, `listed`); false if none."""
    if count == 0:
        return false()
    return column.in_([bindparam(f"{name}_{index}", type_=column.type) for index in range(count)])


def among(column: ColumnElement[Any], values: Sequence[Any]) -> ColumnElement[bool]:
    """`column IN (…)` of these fixed values, each a placeholder whose value the compiled statement keeps."""
    return column.in_([bindparam(None, value, type_=column.type) for value in values])


def slots(count: int) -> int:
    """The placeholders an IN list of `count` values gets: a power of two, so a few compiled shapes serve all.

    Compiling a shape costs far more than running it, and a batch's lookups come in every length.
    """
    return 0 if count <= 0 else 1 << (count - 1).bit_length()


def listed(name: str, values: Sequence[Any]) -> dict[str, Any]:
    """The values for the `slots(len(values))` placeholders `one_of(…, name, …)` made; the last value fills the rest."""
    padded = [*values, *[values[-1]] * (slots(len(values)) - len(values))] if values else []
    return {f"{name}_{index}": value for index, value in enumerate(padded)}


def _upsert(dialect: str, table: Table, names: tuple[str, ...], key: str, only_if: Condition | None) -> Executable:
    """INSERT … ON CONFLICT (key) DO UPDATE of every other named column, where `only_if` allows."""
    insert = postgresql.insert if dialect == "postgresql" else sqlite.insert
    statement = insert(table).values({name: bindparam(name, type_=table.c[name].type) for name in names})
    return statement.on_conflict_do_update(
        index_elements=[table.c[key]],
        set_={name: statement.excluded[name] for name in names if name != key},
        where=None if only_if is None else only_if(table, statement.excluded),
    )


_UPSERT = Statement(_upsert)


def upsert(
    session: Session, table: Table, rows: Sequence[Params], key: str = "id", only_if: Condition | None = None
) -> None:
    """Insert rows (all with the same columns), overwriting those whose `key` is stored and `only_if` allows."""
    if rows:
        dialect = session.get_bind().dialect.name
        _UPSERT.run(session, rows, dialect, table, tuple(rows[0]), key, only_if)
