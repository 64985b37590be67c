"""Reads of the store that only tests make: the app asks narrower questions, so these stay out of app/storage."""

from __future__ import annotations

from sqlalchemy import and_, func, select

from app.domain.outbox import OutboxCommand, OutboxState
from app.storage.models import CLOSES, CONTACTS, OUTBOX
from app.storage.rows import command_from
from app.storage.store import Store


def commands_in(store: Store, state: OutboxState, limit: int = 1000) -> list[OutboxCommand]:
    """The outbox commands in one state, oldest first."""
    statement = select(OUTBOX).where(OUTBOX.c.state == state.value).order_by(OUTBOX.c.id).limit(limit)
    with store.db.sessions() as session:
        return [command_from(row) for row in session.execute(statement).mappings()]


def contact_count(store: Store) -> int:
    """How many contacts are cached."""
    with store.db.sessions() as session:
        return int(session.execute(select(func.count()).select_from(CONTACTS)).scalar_one())


def close_is_known(store: Store, event_id: str, contact_id: int, closed_time: int) -> bool:
    """Whether this close is recorded, by event id or by (contact, close time), as intake deduplicates."""
    statement = select(CLOSES.c.id).where(
        (CLOSES.c.event_id == event_id) | and_(CLOSES.c.contact_id == contact_id, CLOSES.c.closed_time == closed_time)
    )
    with store.db.sessions() as session:
        return session.execute(statement.limit(1)).first() is not None
