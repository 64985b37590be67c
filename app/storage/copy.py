"""Copying every table of one database into another: a desktop's SQLite into a shared PostgreSQL, and back.

Rows are streamed in batches (the history may hold millions) and written in one transaction on the target, so
a copy that fails part way leaves the target as it was. Both databases must be at the same schema version;
`copy_database` opens (and so migrates) both first. Tables and columns are read from the databases
themselves, so an older schema copies as well as the current one.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from dataclasses import dataclass

from sqlalchemy import Boolean, Connection, MetaData, Table, delete, func, insert, inspect, select, text

from app.domain.errors import StorageError
from app.storage.database import SCHEMA_NEEDS, VERSION_TABLE, Database, begin_reading, run_sync
from app.storage.models import META

log = logging.getLogger("closeout.storage")

BATCH = 5000
Progress = Callable[[str, int, int], None]
"""Called after each batch with (table, rows copied so far over all tables, rows to copy in all)."""


class TargetNotEmpty(StorageError):
    """The database to copy into already holds data."""

    default_action = "Copy into an empty database, or add --overwrite to replace what it holds."


@dataclass(frozen=True, slots=True)
class CopyResult:
    """How many rows each table received."""

    rows: dict[str, int]

    @property
    def total(self) -> int:
        """Rows copied over all tables."""
        return sum(self.rows.values())


def copy_database(
    source_url: str, target_url: str, *, overwrite: bool = False, progress: Progress | None = None
) -> CopyResult:
    """Copy everything from `source_url` into `target_url` (created and migrated if need be).

    A target holding data is refused (TargetNotEmpty) unless `overwrite`, which first empties it.
    """
    source = Database.open(source_url)
    try:
        target = Database.open(target_url)
        try:
            if source.where == target.where:
                raise StorageError(f"The source and the target are the same database ({source.where}).")

            def run() -> CopyResult:
                with source.engine.connect() as reading, target.engine.begin() as writing:
                    begin_reading(reading)  # other processes keep writing to the source meanwhile
                    return copy_rows(reading, writing, overwrite=overwrite, progress=progress, where=target.where)

            return run_sync(run, target.where)
        finally:
            target.close()
    finally:
        source.close()


def copy_rows(
    source: Connection,
    target: Connection,
    *,
    overwrite: bool = False,
    progress: Progress | None = None,
    where: str = "the target",
    batch: int = BATCH,
) -> CopyResult:
    """Copy every table's rows from `source` to `target`, which must be at the same schema version."""
    source_revision = _revision(source)
    target_revision = _revision(target)
    if source_revision != target_revision:
        raise StorageError(
            f"The source is at schema {source_revision} and the database {where} at schema {target_revision}; "
            "both must be at the same one."
        )
    source_tables = _tables(source)
    target_tables = _tables(target)
    missing = sorted(set(source_tables) - set(target_tables))
    if missing:
        raise StorageError(f"The database {where} has no table {', '.join(missing)}.")
    held = {name: _count(target, table) for name, table in target_tables.items()}
    held[META.name] = _count(target, target_tables[META.name], exclude_schema_note=True) if META.name in held else 0
    if any(held.values()):
        if not overwrite:
            listed = ", ".join(f"{count} in {name}" for name, count in held.items() if count)
            raise TargetNotEmpty(f"The database {where} already holds rows ({listed}); nothing was copied.")
        log.warning("emptying %s before the copy", where)
        for table in reversed(list(target_tables.values())):
            target.execute(delete(table))
    elif META.name in target_tables:
        target.execute(delete(target_tables[META.name]))  # the schema note, which the source's copy replaces
    total = sum(_count(source, table) for table in source_tables.values())
    done = 0
    copied: dict[str, int] = {}
    for name, table in source_tables.items():
        into = target_tables[name]
        flags = [column.name for column in into.columns if isinstance(column.type, Boolean)]
        copied[name] = 0
        ordered = select(table).order_by(*table.primary_key.columns)
        with source.execution_options(yield_per=batch).execute(ordered) as result:
            for rows in result.mappings().partitions(batch):
                values = [_as_target(dict(row), flags) for row in rows]
                target.execute(insert(into), values)
                copied[name] += len(values)
                done += len(values)
                if progress is not None:
                    progress(name, done, total)
        _continue_ids(target, into)
    if progress is not None:
        progress("", done, total)
    return CopyResult(copied)


def _revision(connection: Connection) -> str | None:
    if not inspect(connection).has_table(VERSION_TABLE.name):
        return None
    return connection.execute(select(VERSION_TABLE.c.version_num)).scalar()


def _tables(connection: Connection) -> dict[str, Table]:
    """The database's own tables, parents before children, without Alembic's version table."""
    metadata = MetaData()
    metadata.reflect(connection)
    return {table.name: table for table in metadata.sorted_tables if table.name != VERSION_TABLE.name}


def _count(connection: Connection, table: Table, *, exclude_schema_note: bool = False) -> int:
    statement = select(func.count()).select_from(table)
    if exclude_schema_note:
        statement = statement.where(table.c.key != SCHEMA_NEEDS)
    return int(connection.execute(statement).scalar_one())


def _as_target(row: dict[str, object], flags: list[str]) -> dict[str, object]:
    """SQLite keeps booleans as 0 and 1; PostgreSQL wants them as booleans."""
    for name in flags:
        if row.get(name) is not None:
            row[name] = bool(row[name])
    return row


def _continue_ids(target: Connection, table: Table) -> None:
    """On PostgreSQL, move an id sequence past the copied ids, so the next insert does not reuse one."""
    if target.dialect.name != "postgresql":
        return
    for column in table.primary_key.columns:
        sequence = target.execute(text("SELECT pg_get_serial_sequence(:t, :c)"), {"t": table.name, "c": column.name})
        name = sequence.scalar()
        if name:
            target.execute(
                text(f"SELECT setval(:s, coalesce((SELECT max({column.name}) FROM {table.name}), 0) + 1, false)"),
                {"s": name},
            )
