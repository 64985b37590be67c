"""Statements built once from the models with SQLAlchemy Core and sent straight to the driver.

SQLAlchemy builds, keys and compiles a statement on every call, which costs several times what SQLite takes to
run a one-row UPDATE. The statements on the per-close path (plan commits, claiming and settling commands) are
therefore built from the models once, compiled once per dialect (and per shape, such as the length of an IN
list), and the compiled text is handed to the driver with the values in the order it expects. Nothing is
written by hand: the dialect quotes names, picks placeholders and renders what differs (ON CONFLICT, RETURNING,
FOR UPDATE). Values go to the driver as the rows hold them, which for the plain types (integers, floats,
strings, booleans) is what SQLAlchemy would send; the bind processors of any other type still run.
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Hashable, Mapping, Sequence
from functools import partial
from operator import itemgetter
from typing import Any

from sqlalchemy import (
    Boolean,
    ClauseElement,
    ColumnElement,
    CursorResult,
    Executable,
    Float,
    Integer,
    String,
    Table,
    bindparam,
    false,
)
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.engine import Dialect
from sqlalchemy.orm import Session
from sqlalchemy.sql.base import ReadOnlyColumnCollection
from sqlalchemy.sql.compiler import SQLCompiler
from sqlalchemy.sql.elements import KeyedColumnElement

Params = Mapping[str, Any]
Condition = Callable[[Table, ReadOnlyColumnCollection[str, KeyedColumnElement[Any]]], ColumnElement[bool]]
"""A condition on the stored row (the table) and the offered one (`excluded`) of an upsert."""
_AS_THEY_ARE = (Boolean, Float, Integer, String)
"""Types whose values both drivers take as Python makes them; their processors only coerce (float(), int())."""
SHAPES_KEPT = 256
"""Compiled shapes kept per statement: IN lists come in many lengths, and the oldest compiled is dropped first."""


class _Compiled:
    """A statement's text for one dialect, and how a mapping of values becomes what the driver takes."""

    __slots__ = ("_constants", "_converters", "_names", "_processors", "text")

    def __init__(
        self,
        text: str,
        names: tuple[str, ...] | None,
        constants: dict[str, Any],
        processors: dict[str, Callable[[Any], Any]],
    ) -> None:
        self.text = text
        self._names = names  # the placeholders' order for a positional driver; None for one that takes names
        self._constants = constants
        self._processors = processors
        self._converters: dict[tuple[str, ...], Callable[[Params], Any]] = {}

    def converter(self, keys: tuple[str, ...]) -> Callable[[Params], Any]:
        """What turns one mapping with these keys into the driver's values (a tuple in order, or a dict)."""
        found = self._converters.get(keys)
        if found is None:
            found = self._converters[keys] = self._converter(set(keys))
        return found

    def takes_as_they_are(self, keys: tuple[str, ...]) -> bool:
        """Whether tuples of values in `keys` order are already what the driver takes."""
        return self._names == keys and not self._processors

    def _converter(self, keys: set[str]) -> Callable[[Params], Any]:
        constants = {name: value for name, value in self._constants.items() if name not in keys}
        processors = self._processors
        names = self._names
        if names is None:
            if not constants and not processors:
                return _same
            return partial(_named, constants, processors)
        if not constants and not processors and len(names) > 1:
            return itemgetter(*names)  # a tuple, for two names or more
        if not processors:
            return partial(_positional, tuple((name, constants.get(name, _GIVEN)) for name in names))
        steps = tuple((name, processors.get(name)) for name in names)
        return partial(_processed, constants, steps)


_GIVEN = object()
"""In a positional converter's steps: the value comes from the mapping given, not from the statement."""


def _same(params: Params) -> Params:
    return params


def _named(constants: dict[str, Any], processors: dict[str, Callable[[Any], Any]], params: Params) -> Params:
    merged = {**constants, **params}
    for name, processor in processors.items():
        merged[name] = processor(merged[name])
    return merged


def _positional(steps: tuple[tuple[str, Any], ...], params: Params) -> tuple[Any, ...]:
    return tuple([params[name] if fixed is _GIVEN else fixed for name, fixed in steps])


def _processed(
    constants: dict[str, Any], steps: tuple[tuple[str, Callable[[Any], Any] | None], ...], params: Params
) -> tuple[Any, ...]:
    merged = {**constants, **params} if constants else params
    return tuple([merged[name] if p is None else p(merged[name]) for name, p in steps])


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
            return connection.exec_driver_sql(compiled.text, compiled.converter(())({}))
        if isinstance(params, Mapping):
            return connection.exec_driver_sql(compiled.text, compiled.converter(tuple(params))(params))
        if not params:
            return connection.exec_driver_sql(compiled.text, [])
        convert = compiled.converter(tuple(params[0]))  # the rows of one call have the same keys
        return connection.exec_driver_sql(compiled.text, list(map(convert, params)))

    def run_rows(
        self, session: Session, keys: tuple[str, ...], rows: Sequence[tuple[Any, ...]], *shape: Hashable
    ) -> CursorResult[*tuple[Any, ...]]:
        """Run once per row, each a tuple of values in `keys` order: for large batches, a mapping per row costs.

        The tuples go to the driver as they are when it takes exactly those values in that order.
        """
        connection = session.connection()
        compiled = self._for(connection.dialect, shape)
        if compiled.takes_as_they_are(keys):
            return connection.exec_driver_sql(compiled.text, list(rows))
        convert = compiled.converter(keys)
        return connection.exec_driver_sql(compiled.text, [convert(dict(zip(keys, row, strict=True))) for row in rows])

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
        if isinstance(bind.type, _AS_THEY_ARE):
            continue
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
    names = tuple(compiled.positiontup or ()) if compiled.positional else None
    return _Compiled(text, names, constants, processors)


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
