"""Plain SQL sent straight to the driver, for the few statements that run once or more per close.

SQLAlchemy builds, keys and compiles a statement on every call, which costs several times what SQLite takes to
run a one-row UPDATE. The statements on the per-close path (plan commits, claiming and settling commands) are
therefore written out with `?` placeholders and handed to the driver as they are; on PostgreSQL the
placeholders become `%s`. Table and column names always come from the models, never from input.
"""

from __future__ import annotations

import functools
from collections.abc import Sequence
from typing import Any

from sqlalchemy import CursorResult
from sqlalchemy.orm import Session


def execute(session: Session, sql: str, params: tuple[Any, ...] | list[tuple[Any, ...]] = ()) -> CursorResult[Any]:
    """Run `sql` in the session's transaction with a tuple of values, or once per tuple of a list of them."""
    connection = session.connection()
    if connection.dialect.paramstyle != "qmark":
        sql = sql.replace("?", "%s")
    return connection.exec_driver_sql(sql, params)


def marks(count: int) -> str:
    """`count` placeholders, comma-separated (for VALUES and IN lists)."""
    return ", ".join(["?"] * count)


@functools.lru_cache(maxsize=64)
def upsert_sql(table: str, names: tuple[str, ...], key: str = "id", only_if: str = "") -> str:
    """INSERT … ON CONFLICT (key) DO UPDATE of every other column: the same words in SQLite and PostgreSQL.

    `only_if` is a condition on the stored row (`{table}`) and the offered one (`excluded`): when it is false the
    stored row stays as it is.
    """
    updates = ", ".join(f"{name} = excluded.{name}" for name in names if name != key)
    where = f" WHERE {only_if}" if only_if else ""
    return (
        f"INSERT INTO {table} ({', '.join(names)}) VALUES ({marks(len(names))}) "
        f"ON CONFLICT ({key}) DO UPDATE SET {updates}{where}"
    )


def upsert(session: Session, table: str, rows: Sequence[dict[str, Any]], key: str = "id", only_if: str = "") -> None:
    """Insert rows (all with the same columns), overwriting those whose `key` is stored and `only_if` allows."""
    if rows:
        execute(session, upsert_sql(table, tuple(rows[0]), key, only_if), [tuple(row.values()) for row in rows])
