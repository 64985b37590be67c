"""The durable outbox: commands are enqueued with their plan, claimed by the drain, and settled.

A command moves pending → in_flight (claimed, attempt counted) → done | failed | skipped, or back to
pending with a later `next_attempt_at`. A crash leaves claimed rows in_flight; `recover_in_flight` at
start-up puts them back, so each is sent at most once more (and the drain verifies before it unassigns).
On PostgreSQL, claims use FOR UPDATE SKIP LOCKED so two desktops never take the same command.
"""

from __future__ import annotations

import time
from dataclasses import dataclass

from sqlalchemy import and_, select, update
from sqlalchemy.orm import Session, sessionmaker

from app.domain.history import SyncState
from app.domain.outbox import OutboxCommand, OutboxState
from app.domain.people import Contact
from app.domain.workflows import RunOutcome
from app.storage import sql
from app.storage.models import CHANGES, CONTACTS, OUTBOX, RUNS
from app.storage.rows import command_from, contact_values

ACTIVE = (OutboxState.PENDING.value, OutboxState.IN_FLIGHT.value)

# Pending commands that are next in line: the oldest unsettled command of their contact. A contact's commands
# thus go out one at a time and in order, even while an earlier one waits to be retried (an undo's reassign
# must never overtake the unassign it reverses). `heads` reads the unsettled commands once, from the state
# index, so a claim costs the same whatever the backlog's shape.
_NEXT_IN_LINE = (
    "WITH heads AS (SELECT min(id) AS id FROM {outbox} WHERE state IN (?, ?) GROUP BY contact_id) "
    "{select} FROM {outbox} AS o JOIN heads ON heads.id = o.id WHERE o.state = ?"
)
_DUE = _NEXT_IN_LINE + " AND o.next_attempt_at <= ? ORDER BY o.id LIMIT ?{lock}"


class Outbox:
    """Claims and settles outbox commands."""

    def __init__(self, sessions: sessionmaker[Session]) -> None:
        """Work through `sessions`, one session per call."""
        self._sessions = sessions

    def claim_due(self, now: float, limit: int = 20) -> Claim:
        """Take up to `limit` due commands, oldest first, marking them in_flight and counting the attempt.

        With fewer than `limit` due, the claim also says when the next pending command falls due, so the drain
        knows how long to sleep without asking again.
        """
        with self._sessions.begin() as session:
            lock = " FOR UPDATE OF o SKIP LOCKED" if session.get_bind().dialect.name == "postgresql" else ""
            statement = _DUE.format(outbox=OUTBOX.name, select="SELECT o.id", lock=lock)
            due = sql.execute(session, statement, (*ACTIVE, OutboxState.PENDING.value, now, limit))
            ids = tuple(row_id for (row_id,) in due)
            commands: list[OutboxCommand] = []
            if ids:
                sql.execute(
                    session,
                    f"UPDATE {OUTBOX.name} SET state = ?, attempts = attempts + 1, updated_at = ? "
                    f"WHERE id IN ({sql.marks(len(ids))})",
                    (OutboxState.IN_FLIGHT.value, now, *ids),
                )
                claimed = f"SELECT * FROM {OUTBOX.name} WHERE id IN ({sql.marks(len(ids))}) ORDER BY id"
                commands = [command_from(row) for row in sql.execute(session, claimed, ids).mappings()]
            next_due = _next_due_at(session) if len(ids) < limit else None
            return Claim(commands, next_due)

    def settle(
        self,
        command: OutboxCommand,
        state: OutboxState,
        *,
        error: str | None = None,
        change_state: SyncState | None = None,
        run_outcome: RunOutcome | None = None,
        run_reason: str | None = None,
        contact: Contact | None = None,
    ) -> int:
        """Record a command's final state, and with it its history row's and its run's, in one transaction.

        `contact` is the platform's view of the contact read while sending; it refreshes the cache in the
        same transaction. Returns the outbox depth after it (see `depth`).
        """
        assert command.id is not None
        now = time.time()
        with self._sessions.begin() as session:
            if contact is not None:
                sql.upsert(session, CONTACTS.name, [contact_values(contact, now)])
            sql.execute(
                session,
                f"UPDATE {OUTBOX.name} SET state = ?, last_error = ?, updated_at = ? WHERE id = ?",
                (state.value, error, now, command.id),
            )
            if change_state is not None and command.change_id is not None:
                sql.execute(
                    session,
                    f"UPDATE {CHANGES.name} SET sync_state = ? WHERE id = ?",
                    (change_state.value, command.change_id),
                )
            if run_outcome is not None and command.run_id is not None:
                sql.execute(
                    session,
                    f"UPDATE {RUNS.name} SET outcome = ?, reason = coalesce(?, reason) WHERE id = ?",
                    (run_outcome.value, run_reason, command.run_id),
                )
            return _depth(session)

    def retry_at(self, command: OutboxCommand, when: float, error: str) -> None:
        """Put a command back to pending, due at `when`, remembering why it failed."""
        assert command.id is not None
        with self._sessions.begin() as session:
            sql.execute(
                session,
                f"UPDATE {OUTBOX.name} SET state = ?, next_attempt_at = ?, last_error = ?, updated_at = ? WHERE id = ?",
                (OutboxState.PENDING.value, when, error, time.time(), command.id),
            )

    def recover_in_flight(self) -> int:
        """Return commands a crash left in_flight to pending; returns how many."""
        with self._sessions.begin() as session:
            ids = list(
                session.execute(select(OUTBOX.c.id).where(OUTBOX.c.state == OutboxState.IN_FLIGHT.value)).scalars()
            )
            if ids:
                session.execute(
                    update(OUTBOX)
                    .where(OUTBOX.c.id.in_(ids))
                    .values(state=OutboxState.PENDING.value, updated_at=time.time())
                )
        return len(ids)

    def depth(self) -> int:
        """Commands not yet settled (pending or in flight)."""
        with self._sessions() as session:
            return _depth(session)

    def next_due_at(self) -> float | None:
        """When the earliest pending command next in line is due, or None when there is none."""
        with self._sessions() as session:
            return _next_due_at(session)

    def get(self, command_id: int) -> OutboxCommand | None:
        """One command by id."""
        with self._sessions() as session:
            row = session.execute(select(OUTBOX).where(OUTBOX.c.id == command_id)).mappings().first()
        return command_from(row) if row else None

    def by_state(self, state: OutboxState, limit: int = 1000) -> list[OutboxCommand]:
        """Commands in one state, oldest first."""
        statement = select(OUTBOX).where(and_(OUTBOX.c.state == state.value)).order_by(OUTBOX.c.id).limit(limit)
        with self._sessions() as session:
            return [command_from(r) for r in session.execute(statement).mappings()]


@dataclass(frozen=True, slots=True)
class Claim:
    """The commands a claim took, and when the next pending one falls due (None: none pending, or not asked)."""

    commands: list[OutboxCommand]
    next_due_at: float | None = None


def _depth(session: Session) -> int:
    count = sql.execute(session, f"SELECT count(*) FROM {OUTBOX.name} WHERE state IN ({sql.marks(2)})", ACTIVE)
    return int(count.scalar_one())


def _next_due_at(session: Session) -> float | None:
    statement = _NEXT_IN_LINE.format(outbox=OUTBOX.name, select="SELECT min(o.next_attempt_at)")
    due = sql.execute(session, statement, (*ACTIVE, OutboxState.PENDING.value))
    value = due.scalar()
    return None if value is None else float(value)
