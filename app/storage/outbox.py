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
from typing import Any

from sqlalchemy import ColumnElement, Integer, Select, String, Update, bindparam, false, func, or_, select, true, update
from sqlalchemy.orm import Session, sessionmaker

from app.domain.history import SyncState
from app.domain.outbox import CommandKind, OutboxCommand, OutboxState
from app.domain.people import Contact
from app.domain.workflows import RunOutcome
from app.storage import sql
from app.storage.leases import Holder
from app.storage.models import CHANGES, CONTACTS, OUTBOX, RUNS
from app.storage.rows import command_from, contact_values, newer_snapshot

log = logging.getLogger("closeout.storage")

ACTIVE = (OutboxState.PENDING.value, OutboxState.IN_FLIGHT.value)
LEASE_SECONDS = 30.0
_PENDING = OutboxState.PENDING.value
_IN_FLIGHT = OutboxState.IN_FLIGHT.value
_O = OUTBOX.alias("o")
_RELEASED = {"lease_owner": None, "lease_until": None}


def _next_in_line(postgres: bool, *columns: ColumnElement[Any], due: bool = False) -> Select[Any]:
    """`columns` of the pending commands next in line (the oldest unsettled command of their contact); `due`: by `now`.

    A contact's commands thus go out one at a time and in order, even while an earlier one waits to be retried
    (an undo's reassign must never overtake the unassign it reverses). `heads` reads the unsettled commands
    once, from the state index, so a claim costs the same whatever the backlog's shape.

    On PostgreSQL the state and due time are read from `heads` and the outbox is joined only by its key: the
    planner, whose statistics lag behind a fresh burst of commands, otherwise loops over `heads` once per
    pending command (a second per claim at 2,000 pending).
    """
    c = OUTBOX.c
    if not postgres:
        first = select(func.min(c.id).label("id")).where(sql.among(c.state, ACTIVE)).group_by(c.contact_id)
        heads = first.cte("heads")
        statement = select(*columns).select_from(_O.join(heads, heads.c.id == _O.c.id)).where(_O.c.state == _PENDING)
        return statement.where(_O.c.next_attempt_at <= bindparam("now")) if due else statement
    place = func.row_number().over(partition_by=c.contact_id, order_by=c.id).label("place")
    pg_heads = select(c.id, c.state, c.next_attempt_at, place).where(sql.among(c.state, ACTIVE)).cte("heads")
    statement = (
        select(*columns)
        .select_from(pg_heads.join(_O, _O.c.id == pg_heads.c.id))
        .where(pg_heads.c.place == 1, pg_heads.c.state == _PENDING)
    )
    return statement.where(pg_heads.c.next_attempt_at <= bindparam("now")) if due else statement


# The due commands, oldest first; on PostgreSQL the claimed rows are locked, and rows another transaction has
# locked are passed over.
_DUE = sql.Statement(
    lambda postgres: (
        _next_in_line(postgres, _O.c.id, due=True)
        .order_by(_O.c.id)
        .limit(bindparam("limit", type_=Integer))
        .with_for_update(of=_O, skip_locked=True)
    )
)
_NEXT_DUE = sql.Statement(lambda postgres: _next_in_line(postgres, func.min(_O.c.next_attempt_at)))
_CLAIM = sql.Statement(
    lambda count: (
        update(OUTBOX)
        .where(sql.one_of(OUTBOX.c.id, "id", count), OUTBOX.c.state == _PENDING)
        .values(
            state=_IN_FLIGHT,
            attempts=OUTBOX.c.attempts + 1,
            updated_at=bindparam("now"),
            lease_owner=bindparam("owner"),
            lease_until=bindparam("until"),
        )
        .returning(*OUTBOX.c)
    )
)
_RENEW = sql.Statement(
    lambda count: (
        update(OUTBOX)
        .where(
            sql.one_of(OUTBOX.c.id, "id", count),
            OUTBOX.c.state == _IN_FLIGHT,
            OUTBOX.c.lease_owner == bindparam("owner"),
        )
        .values(lease_until=bindparam("until"))
        .returning(OUTBOX.c.id)
    )
)


def _held(**values: Any) -> Update:
    """An UPDATE of the in-flight command `command` that `owner` holds, RETURNING its id."""
    return (
        update(OUTBOX)
        .where(
            OUTBOX.c.id == bindparam("command"),
            OUTBOX.c.state == _IN_FLIGHT,
            OUTBOX.c.lease_owner == bindparam("owner"),
        )
        .values(**values)
        .returning(OUTBOX.c.id)
    )


_SETTLE = sql.Statement(
    lambda: _held(
        state=bindparam("state"),
        last_error=bindparam("error"),
        updated_at=bindparam("now"),
        awaiting_echo=bindparam("sent"),
        **_RELEASED,
    )
)
_RETRY = sql.Statement(
    lambda: _held(
        state=_PENDING,
        next_attempt_at=bindparam("when"),
        last_error=bindparam("error"),
        updated_at=bindparam("now"),
        **_RELEASED,
    )
)
_CHANGE_SYNCED = sql.Statement(
    lambda: (
        update(CHANGES)
        .where(CHANGES.c.id == bindparam("change"), CHANGES.c.sync_state == SyncState.PENDING.value)
        .values(sync_state=bindparam("sync"))
        .returning(CHANGES.c.id)
    )
)
_RUN_ENDED = sql.Statement(
    lambda: (
        update(RUNS)
        .where(RUNS.c.id == bindparam("run"), RUNS.c.undone == false())
        .values(outcome=bindparam("outcome"), reason=func.coalesce(bindparam("why", type_=String), RUNS.c.reason))
    )
)
_AWAITING = sql.Statement(
    lambda count: (
        select(OUTBOX.c.id, OUTBOX.c.contact_id, OUTBOX.c.kind, OUTBOX.c.payload)
        .where(
            OUTBOX.c.awaiting_echo == true(),
            OUTBOX.c.updated_at >= bindparam("since"),
            sql.one_of(OUTBOX.c.contact_id, "contact", count),
        )
        .order_by(OUTBOX.c.id)
    )
)
_ECHOED = sql.Statement(
    lambda count: update(OUTBOX).where(sql.one_of(OUTBOX.c.id, "id", count)).values(awaiting_echo=false())
)
_LIVE_HOLDERS = sql.Statement(
    lambda: (
        select(OUTBOX.c.lease_owner)
        .distinct()
        .where(OUTBOX.c.state == _IN_FLIGHT, OUTBOX.c.lease_until >= bindparam("now"))
    )
)
_TAKE_BACK = sql.Statement(
    lambda gone: (
        update(OUTBOX)
        .where(
            OUTBOX.c.state == _IN_FLIGHT,
            or_(
                OUTBOX.c.lease_until.is_(None),
                OUTBOX.c.lease_until < bindparam("now"),
                sql.one_of(OUTBOX.c.lease_owner, "gone", gone),
            ),
        )
        .values(state=_PENDING, updated_at=bindparam("now"), **_RELEASED)
        .returning(OUTBOX.c.id)
    )
)
_DEPTH = sql.Statement(lambda: select(func.count()).select_from(OUTBOX).where(sql.among(OUTBOX.c.state, ACTIVE)))


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
            due = _DUE.run(session, {"now": now, "limit": limit}, _on_postgres(session))
            ids = tuple(row_id for (row_id,) in due)
            commands: list[OutboxCommand] = []
            if ids:
                claimed = _CLAIM.run(
                    session,
                    {
                        "now": now,
                        "owner": self.holder.owner,
                        "until": now + self.lease_seconds,
                        **sql.listed("id", ids),
                    },
                    sql.slots(len(ids)),
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
            renewed = _RENEW.run(
                session,
                {"until": now + self.lease_seconds, "owner": self.holder.owner, **sql.listed("id", command_ids)},
                sql.slots(len(command_ids)),
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
                sql.upsert(session, CONTACTS, [values], only_if=newer_snapshot)
            moved = _SETTLE.run(
                session,
                {
                    "state": state.value,
                    "error": error,
                    "now": now,
                    "sent": sent,
                    "command": command.id,
                    "owner": self.holder.owner,
                },
            ).first()
            if moved is None:
                log.warning("command %s is no longer leased to this process; its result is not recorded", command.id)
                return _depth(session)
            if change_state is not None and command.change_id is not None:
                changed = _CHANGE_SYNCED.run(session, {"sync": change_state.value, "change": command.change_id}).first()
                if changed is None:
                    log.info("history row %s was no longer pending; left as it is", command.change_id)
            if run_outcome is not None and command.run_id is not None:
                _RUN_ENDED.run(session, {"outcome": run_outcome.value, "why": run_reason, "run": command.run_id})
            return _depth(session)

    def retry_at(self, command: OutboxCommand, when: float, error: str) -> bool:
        """Put a command we hold back to pending, due at `when`, remembering why; False if it was not ours."""
        assert command.id is not None
        with self._sessions.begin() as session:
            moved = _RETRY.run(
                session,
                {"when": when, "error": error, "now": time.time(), "command": command.id, "owner": self.holder.owner},
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
            rows = _AWAITING.run(
                session, {"since": since, **sql.listed("contact", contact_ids)}, sql.slots(len(contact_ids))
            )
            for command_id, contact_id, kind, payload in (tuple(row) for row in rows):
                target = json.loads(payload or "{}").get("assignee") if kind == CommandKind.ASSIGN.value else None
                found.setdefault(contact_id, []).append((command_id, target))
        return found

    def echoes_seen(self, command_ids: Sequence[int]) -> None:
        """The platform's webhooks about these sent commands came back."""
        if command_ids:
            with self._sessions.begin() as session:
                _ECHOED.run(session, sql.listed("id", command_ids), sql.slots(len(command_ids)))

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
    holders = _LIVE_HOLDERS.run(session, {"now": now})
    gone = [owner for (owner,) in holders if owner and (h := Holder.parse(owner)) is not None and h.is_gone()]
    taken = _TAKE_BACK.run(session, {"now": now, **sql.listed("gone", gone)}, sql.slots(len(gone)))
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
    return int(_DEPTH.run(session).scalar_one())


def _next_due_at(session: Session) -> float | None:
    value = _NEXT_DUE.run(session, None, _on_postgres(session)).scalar()
    return None if value is None else float(value)
