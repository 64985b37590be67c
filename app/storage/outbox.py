"""The durable outbox: commands are enqueued with their plan, claimed by the drain, and settled.

A command moves pending → in_flight (claimed, attempt counted, leased) → done | failed | skipped, or back to
pending with a later `next_attempt_at`. A claim is a lease: it records which holder has the command and until
when, and the holder renews it while it waits on a slow platform. Any claimer takes back only leases that have
run out or whose holder process is gone, so a second live process never loses its commands to a start-up; a
command taken back is sent at most once more (and the drain verifies before it unassigns).

Every transition names the state it expects (`... WHERE state = 'pending'`, `... AND lease_owner = ?`) inside
a transaction that took the write lock before its first read (see `database`); a transition that finds another
state is a no-op that says so in the log. On PostgreSQL the same advisory lock serialises writers (see
`database`), and claims also lock their rows with FOR UPDATE SKIP LOCKED.
"""

from __future__ import annotations

import json
import logging
import time
from collections.abc import Sequence
from dataclasses import dataclass

from sqlalchemy import select
from sqlalchemy.orm import Session, sessionmaker

from app.domain.history import SyncState
from app.domain.outbox import CommandKind, OutboxCommand, OutboxState
from app.domain.people import Contact
from app.domain.workflows import RunOutcome
from app.storage import sql
from app.storage.leases import Holder
from app.storage.models import CHANGES, CONTACTS, OUTBOX, RUNS
from app.storage.rows import NEWER_SNAPSHOT, command_from, contact_values

log = logging.getLogger("closeout.storage")

ACTIVE = (OutboxState.PENDING.value, OutboxState.IN_FLIGHT.value)
LEASE_SECONDS = 30.0

# Pending commands that are next in line: the oldest unsettled command of their contact. A contact's commands
# thus go out one at a time and in order, even while an earlier one waits to be retried (an undo's reassign
# must never overtake the unassign it reverses). `heads` reads the unsettled commands once, from the state
# index, so a claim costs the same whatever the backlog's shape.
_NEXT_IN_LINE = (
    "WITH heads AS (SELECT min(id) AS id FROM {outbox} WHERE state IN (?, ?) GROUP BY contact_id) "
    "{select} FROM {outbox} AS o JOIN heads ON heads.id = o.id WHERE o.state = ?"
)
_DUE = _NEXT_IN_LINE + " AND o.next_attempt_at <= ? ORDER BY o.id LIMIT ?"
# The same on PostgreSQL, where the state and due time are read from `heads` and the outbox is joined only by
# its key: the planner, whose statistics lag behind a fresh burst of commands, otherwise loops over `heads`
# once per pending command (a second per claim at 2,000 pending). The claimed rows are locked, and rows
# another transaction has locked are passed over.
_PG_NEXT_IN_LINE = (
    "WITH heads AS (SELECT id, state, next_attempt_at, row_number() OVER (PARTITION BY contact_id ORDER BY id) "
    "AS place FROM {outbox} WHERE state IN (?, ?)) "
    "{select} FROM heads JOIN {outbox} AS o ON o.id = heads.id WHERE heads.place = 1 AND heads.state = ?"
)
_PG_DUE = _PG_NEXT_IN_LINE + " AND heads.next_attempt_at <= ? ORDER BY o.id LIMIT ? FOR UPDATE OF o SKIP LOCKED"
_RELEASE = "state = ?, lease_owner = NULL, lease_until = NULL"


class Outbox:
    """Claims, renews and settles outbox commands as one lease holder."""

    def __init__(self, sessions: sessionmaker[Session], holder: Holder | None = None) -> None:
        """Work through `sessions`, one session per call, holding leases as `holder`."""
        self._sessions = sessions
        self.holder = holder or Holder.this_process()
        self.lease_seconds = LEASE_SECONDS

    def claim_due(self, now: float, limit: int = 20) -> Claim:
        """Take up to `limit` due commands, oldest first, leasing them and counting the attempt.

        Leases that ran out (or whose holder is gone) are taken back first. With fewer than `limit` due, the
        claim also says when the next pending command falls due, so the drain knows how long to sleep.
        """
        with self._sessions.begin() as session:
            _take_back(session, now)
            due_sql = _PG_DUE if _on_postgres(session) else _DUE
            statement = due_sql.format(outbox=OUTBOX.name, select="SELECT o.id")
            due = sql.execute(session, statement, (*ACTIVE, OutboxState.PENDING.value, now, limit))
            ids = tuple(row_id for (row_id,) in due)
            commands: list[OutboxCommand] = []
            if ids:
                claimed = sql.execute(
                    session,
                    f"UPDATE {OUTBOX.name} SET state = ?, attempts = attempts + 1, updated_at = ?, "
                    f"lease_owner = ?, lease_until = ? WHERE id IN ({sql.marks(len(ids))}) AND state = ? RETURNING *",
                    (
                        OutboxState.IN_FLIGHT.value,
                        now,
                        self.holder.owner,
                        now + self.lease_seconds,
                        *ids,
                        OutboxState.PENDING.value,
                    ),
                )
                commands = sorted((command_from(row) for row in claimed.mappings()), key=lambda c: c.id or 0)
                if len(commands) < len(ids):
                    log.warning(
                        "%d of %d due commands were claimed by another process", len(ids) - len(commands), len(ids)
                    )
            next_due = _next_due_at(session) if len(ids) < limit else None
            return Claim(commands, next_due)

    def renew(self, command_ids: Sequence[int], now: float | None = None) -> int:
        """Extend our leases on these in-flight commands; returns how many are still ours."""
        if not command_ids:
            return 0
        now = time.time() if now is None else now
        with self._sessions.begin() as session:
            renewed = sql.execute(
                session,
                f"UPDATE {OUTBOX.name} SET lease_until = ? WHERE id IN ({sql.marks(len(command_ids))}) "
                "AND state = ? AND lease_owner = ? RETURNING id",
                (now + self.lease_seconds, *command_ids, OutboxState.IN_FLIGHT.value, self.holder.owner),
            )
            kept = len(renewed.all())
        if kept < len(command_ids):
            log.warning("%d commands in hand are no longer leased to this process", len(command_ids) - kept)
        return kept

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
        seen_at: float | None = None,
        sent: bool = False,
    ) -> int:
        """Record a command's final state, and with it its history row's and its run's, in one transaction.

        Only a command still leased to us moves, only a pending history row takes the sync state (an undone one
        stays undone), and only a run not undone takes the outcome. `contact` is the platform's state of the
        contact as read (or left) by the send at `seen_at`; it refreshes the cache unless the cache holds a
        newer read. `sent` says a POST changed the platform, whose webhook about it is then awaited (see
        `awaiting_echoes`). Returns the outbox depth after it (see `depth`).
        """
        assert command.id is not None
        now = time.time()
        with self._sessions.begin() as session:
            if contact is not None:
                values = contact_values(contact, now, seen_at)
                sql.upsert(session, CONTACTS.name, [values], only_if=NEWER_SNAPSHOT)
            moved = sql.execute(
                session,
                f"UPDATE {OUTBOX.name} SET {_RELEASE}, last_error = ?, updated_at = ?, awaiting_echo = ? "
                "WHERE id = ? AND state = ? AND lease_owner = ? RETURNING id",
                (state.value, error, now, sent, command.id, OutboxState.IN_FLIGHT.value, self.holder.owner),
            ).first()
            if moved is None:
                log.warning("command %s is no longer leased to this process; its result is not recorded", command.id)
                return _depth(session)
            if change_state is not None and command.change_id is not None:
                changed = sql.execute(
                    session,
                    f"UPDATE {CHANGES.name} SET sync_state = ? WHERE id = ? AND sync_state = ? RETURNING id",
                    (change_state.value, command.change_id, SyncState.PENDING.value),
                ).first()
                if changed is None:
                    log.info("history row %s was no longer pending; left as it is", command.change_id)
            if run_outcome is not None and command.run_id is not None:
                sql.execute(
                    session,
                    f"UPDATE {RUNS.name} SET outcome = ?, reason = coalesce(?, reason) WHERE id = ? AND undone = ?",
                    (run_outcome.value, run_reason, command.run_id, False),
                )
            return _depth(session)

    def retry_at(self, command: OutboxCommand, when: float, error: str) -> bool:
        """Put a command we hold back to pending, due at `when`, remembering why; False if it was not ours."""
        assert command.id is not None
        with self._sessions.begin() as session:
            moved = sql.execute(
                session,
                f"UPDATE {OUTBOX.name} SET {_RELEASE}, next_attempt_at = ?, last_error = ?, updated_at = ? "
                "WHERE id = ? AND state = ? AND lease_owner = ? RETURNING id",
                (
                    OutboxState.PENDING.value,
                    when,
                    error,
                    time.time(),
                    command.id,
                    OutboxState.IN_FLIGHT.value,
                    self.holder.owner,
                ),
            ).first()
        if moved is None:
            log.warning("command %s is no longer leased to this process; not put back", command.id)
        return moved is not None

    def recover_expired(self, now: float | None = None) -> int:
        """Return to pending the in-flight commands whose lease ran out or whose holder is gone; returns how many."""
        with self._sessions.begin() as session:
            return _take_back(session, time.time() if now is None else now)

    def awaiting_echoes(self, contact_ids: Sequence[int], since: float) -> dict[int, list[tuple[int, object]]]:
        """Per contact, the commands sent after `since` whose webhook has not come back: (id, assignee it set)."""
        found: dict[int, list[tuple[int, object]]] = {}
        if not contact_ids:
            return found
        with self._sessions() as session:
            rows = sql.execute(
                session,
                f"SELECT id, contact_id, kind, payload FROM {OUTBOX.name} WHERE awaiting_echo = ? AND updated_at >= ? "
                f"AND contact_id IN ({sql.marks(len(contact_ids))}) ORDER BY id",
                (True, since, *contact_ids),
            )
            for command_id, contact_id, kind, payload in (tuple(row) for row in rows):
                target = json.loads(payload or "{}").get("assignee") if kind == CommandKind.ASSIGN.value else None
                found.setdefault(contact_id, []).append((command_id, target))
        return found

    def echoes_seen(self, command_ids: Sequence[int]) -> None:
        """The platform's webhooks about these sent commands came back."""
        if command_ids:
            with self._sessions.begin() as session:
                sql.execute(
                    session,
                    f"UPDATE {OUTBOX.name} SET awaiting_echo = ? WHERE id IN ({sql.marks(len(command_ids))})",
                    (False, *command_ids),
                )

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


def _take_back(session: Session, now: float) -> int:
    """Put back to pending the in-flight commands whose lease ran out, or whose holder process is gone."""
    holders = sql.execute(
        session,
        f"SELECT DISTINCT lease_owner FROM {OUTBOX.name} WHERE state = ? AND lease_until >= ?",
        (OutboxState.IN_FLIGHT.value, now),
    )
    gone = [owner for (owner,) in holders if owner and (h := Holder.parse(owner)) is not None and h.is_gone()]
    taken = sql.execute(
        session,
        f"UPDATE {OUTBOX.name} SET {_RELEASE}, updated_at = ? WHERE state = ? "
        f"AND (lease_until IS NULL OR lease_until < ? OR lease_owner IN ({sql.marks(len(gone)) or 'NULL'})) "
        "RETURNING id",
        (OutboxState.PENDING.value, now, OutboxState.IN_FLIGHT.value, now, *gone),
    )
    count = len(taken.all())
    if count:
        log.info("took back %d commands whose lease ran out or whose process is gone", count)
    return count


@dataclass(frozen=True, slots=True)
class Claim:
    """The commands a claim took, and when the next pending one falls due (None: none pending, or not asked)."""

    commands: list[OutboxCommand]
    next_due_at: float | None = None


def _on_postgres(session: Session) -> bool:
    return session.get_bind().dialect.name == "postgresql"


def _depth(session: Session) -> int:
    count = sql.execute(session, f"SELECT count(*) FROM {OUTBOX.name} WHERE state IN ({sql.marks(2)})", ACTIVE)
    return int(count.scalar_one())


def _next_due_at(session: Session) -> float | None:
    next_sql = _PG_NEXT_IN_LINE if _on_postgres(session) else _NEXT_IN_LINE
    statement = next_sql.format(outbox=OUTBOX.name, select="SELECT min(o.next_attempt_at)")
    due = sql.execute(session, statement, (*ACTIVE, OutboxState.PENDING.value))
    value = due.scalar()
    return None if value is None else float(value)
