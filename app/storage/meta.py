"""Small named values kept between runs: the last poll time, round-robin positions."""

from __future__ import annotations

from sqlalchemy import select
from sqlalchemy.orm import Session, sessionmaker

from app.storage import sql
from app.storage.models import META


class MetaStore:
    """A key/value table; values are strings, callers choose the format."""

    def __init__(self, sessions: sessionmaker[Session]) -> None:
        """Work through `sessions`, one session per call."""
        self._sessions = sessions

    def get(self, key: str, default: str | None = None) -> str | None:
        """The value for `key`, or `default`."""
        with self._sessions() as session:
            value = session.execute(select(META.c.value).where(META.c.key == key)).scalar_one_or_none()
        return default if value is None else str(value)

    def set(self, key: str, value: str) -> None:
        """Store `value` under `key`."""
        with self._sessions.begin() as session:
            sql.upsert(session, META, [{"key": key, "value": value}], "key")
