"""Committing plans: a close, its runs, history rows, outbox commands and cache updates, all or nothing.

Many plans can share one transaction (the engine batches under load); each statement is then one
multi-row INSERT per table, which is what keeps intake close to raw SQLite speed.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from sqlalchemy import Integer, Table, bindparam, cast, false, func, insert, or_, select, true, update
from sqlalchemy.dialects.sqlite import insert as sqlite_insert
from sqlalchemy.orm import Session, sessionmaker

from app.domain.conversations import ClosedBySource, ClosedConversation
from app.domain.history import SyncState
from app.domain.outbox import OutboxCommand, OutboxState
from app.domain.people import Contact, ContactStatus
from app.domain.plan import RUN_REF, Plan, PlannedRun
from app.domain.workflows import RunOutcome
from app.storage import sql
from app.storage.models import CHANGES, CLOSES, CONTACTS, META, OUTBOX, RUNS
from app.storage.rows import (
    assignee_columns,
    change_values,
    close_values,
    command_values,
    contact_values,
    newer_snapshot,
    run_values,
)

log = logging.getLogger("closeout.storage")

LOOKUP_CHUNK = 500
COMMIT_COUNTER = "plan_commits"

_STILL_TO_SEND = (SyncState.PENDING.value,)
_MADE = (SyncState.PENDING.value, SyncState.SYNCED.value)
_SKIP_PENDING = sql.Statement(
    lambda: (
        update(OUTBOX)
        .where(OUTBOX.c.run_id == bindparam("run"), OUTBOX.c.state == OutboxState.PENDING.value)
        .values(state=OutboxState.SKIPPED.value, last_error=bindparam("why"), updated_at=bindparam("now"))
        .returning(OUTBOX.c.id)
    )
)
_CHANGES_OF_RUN = sql.Statement(
    lambda states: (
        update(CHANGES)
        .where(CHANGES.c.run_id == bindparam("run"), sql.among(CHANGES.c.sync_state, states))
        .values(sync_state=bindparam("sync"))
    )
)
_RUN_SKIPPED = sql.Statement(
    lambda: (
        update(RUNS)
        .where(RUNS.c.id == bindparam("run"), RUNS.c.undone == false())
        .values(outcome=RunOutcome.SKIPPED.value, reason=bindparam("why"))
    )
)
_RESUME = sql.Statement(
    lambda: (
        update(RUNS)
        .where(RUNS.c.id == bindparam("run"), RUNS.c.outcome == RunOutcome.WAITING.value)
        .values(outcome=bindparam("outcome"), reason=bindparam("why"))
        .returning(RUNS.c.id)
    )
)
_UNDO = sql.Statement(
    lambda: (
        update(RUNS)
        .where(RUNS.c.id == bindparam("run"), RUNS.c.undone == false())
        .values(undone=true())
        .returning(RUNS.c.id)
    )
)
_NAME_RUNS = sql.Statement(lambda: update(RUNS).where(RUNS.c.id == bindparam("run")).values(reason=bindparam("why")))
_CLOSES_KNOWN = sql.Statement(
    lambda events, contacts: (
        select(
            CLOSES.c.event_id,
            CLOSES.c.contact_id,
            CLOSES.c.closed_time,
            CLOSES.c.id,
            CLOSES.c.closed_by_source,
            CLOSES.c.recorded_at,
        )
        .where(
            or_(sql.one_of(CLOSES.c.event_id, "event", events), sql.one_of(CLOSES.c.contact_id, "contact", contacts))
        )
        .order_by(CLOSES.c.id)
    )
)
_SHOWN_CLOSED = sql.Statement(
    lambda count: select(CONTACTS.c.id).where(
        CONTACTS.c.status == ContactStatus.CLOSED.value, sql.one_of(CONTACTS.c.id, "contact", count)
    )
)
_KEYS_STORED = sql.Statement(lambda column, count: select(column).where(sql.one_of(column, "key", count)))
_FILL_IN = sql.Statement(
    lambda: (
        update(CLOSES)
        .where(CLOSES.c.id == bindparam("close"))
        .values(
            **{name: bindparam(name) for name in ("closed_by_source", "closed_by_id", "closed_by_name")},
            **{
                name: func.coalesce(bindparam(name, type_=CLOSES.c[name].type), CLOSES.c[name])
                for name in ("category", "summary", "channel", "opened_time", "opened_by_source")
            },
        )
    )
)
# SQLite's writers take the write lock with this first statement of their transaction (see `_Inserter`).
_COUNT_COMMIT = sql.Statement(
    lambda: (
        sqlite_insert(META)
        .values(key=bindparam("name"), value="1")
        .on_conflict_do_update(index_elements=[META.c.key], set_={"value": cast(META.c.value, Integer) + 1})
    )
)
_LAST_ID = sql.Statement(lambda table: select(func.max(table.c.id)))
_INSERT = sql.Statement(
    lambda table, names: insert(table).values({name: bindparam(name, type_=table.c[name].type) for name in names})
)


@dataclass(frozen=True, slots=True)
class CommitResult:
    """The ids a commit wrote, and how many plans were dropped as replays of a recorded close."""

    closes: tuple[int, ...] = ()
    runs: tuple[int, ...] = ()
    changes: tuple[int, ...] = ()
    commands: tuple[int, ...] = ()
    contacts: tuple[int, ...] = ()
    duplicates: int = 0
    # Closes the poll detected first, filled in now from a late webhook: (close id, the webhook's close).
    filled_in: tuple[tuple[int, ClosedConversation], ...] = ()


class PlanWriter:
    """Writes plans; the only code that inserts closes, runs, changes and commands."""

    def __init__(self, sessions: sessionmaker[Session]) -> None:
        """Work through `sessions`, one transaction per call."""
        self._sessions = sessions

    def commit(self, plan: Plan) -> CommitResult:
        """Commit one plan in one transaction."""
        return self.commit_many([plan])

    def cancel_unsent(self, run_id: int, reason: str, contact: Contact) -> bool:
        """Skip a run whose commands were not claimed yet, with its pending history; False if too late.

        `contact` is the platform's state as it stays without those commands; it goes back into the cache.
        """
        now = time.time()
        with self._sessions.begin() as session:
            cancelled = _SKIP_PENDING.run(session, {"why": reason, "now": now, "run": run_id}).all()
            if not cancelled:
                return False
            _CHANGES_OF_RUN.run(session, {"sync": SyncState.SKIPPED.value, "run": run_id}, _STILL_TO_SEND)
            _RUN_SKIPPED.run(session, {"why": reason, "run": run_id})
            sql.upsert(session, CONTACTS, [contact_values(contact, now)], only_if=newer_snapshot)
        return True

    def commit_many(self, plans: Sequence[Plan]) -> CommitResult:
        """Commit several plans in one transaction: all of them, or (on any error) none."""
        if not plans:  # e.g. a batch of echoes of the drain's own changes: no transaction at all
            return CommitResult()
        with self._sessions.begin() as session:
            return _write(session, plans, time.time())


def _write(session: Session, plans: Sequence[Plan], now: float) -> CommitResult:
    rows = _Inserter(session)
    filled: list[tuple[int, ClosedConversation]] = []
    fresh = _drop_recorded_closes(session, plans, filled)
    duplicates = len(plans) - len(fresh)

    with_close = [p for p in fresh if p.close is not None]
    close_ids = rows.insert(CLOSES, [close_values(p.close, now) for p in with_close if p.close])
    close_id_of = {id(p): cid for p, cid in zip(with_close, close_ids, strict=True)}

    planned: list[tuple[PlannedRun, int | None]] = []
    resumed: list[tuple[PlannedRun, int | None]] = []
    for plan in fresh:
        for planned_run in plan.runs:
            item = (planned_run, close_id_of.get(id(plan), planned_run.run.conversation_id))
            (planned if planned_run.run.id is None else resumed).append(item)
    planned = _drop_known_keys(session, RUNS, RUNS.c.key, planned, lambda item: item[0].run.key)
    run_rows = []
    for planned_run, conversation_id in planned:
        run_row = run_values(planned_run.run)
        run_row["conversation_id"] = conversation_id
        run_rows.append(run_row)
    run_ids = rows.insert(RUNS, run_rows)
    _name_referenced_runs(session, run_rows, run_ids)
    # A resumed run moves only from waiting: one another process (or an earlier batch) resumed is left alone,
    # with its actions, so the same wait never assigns twice.
    moved: list[tuple[PlannedRun, int | None]] = []
    for planned_run, conversation_id in resumed:
        run = planned_run.run
        row = _RESUME.run(session, {"outcome": run.outcome.value, "why": run.reason, "run": run.id}).first()
        if row is None:
            log.info("run %s was no longer waiting; not resumed again", planned_run.run.id)
        else:
            moved.append((planned_run, conversation_id))
    planned += moved
    run_ids += [planned_run.run.id for planned_run, _ in moved if planned_run.run.id is not None]

    changes: list[dict[str, Any]] = []
    commands: list[tuple[OutboxCommand, int, int | None]] = []
    for (planned_run, conversation_id), run_id in zip(planned, run_ids, strict=True):
        for action in planned_run.actions:
            change_index = None
            if action.change is not None:
                change_index = len(changes)
                change = change_values(action.change)
                change["run_id"] = run_id
                change["conversation_id"] = change["conversation_id"] or conversation_id
                change["workflow_id"] = change["workflow_id"] or planned_run.run.workflow_id
                changes.append(change)
            if action.command is not None:
                commands.append((action.command, run_id, change_index))
    changes.extend(change_values(change) for plan in fresh for change in plan.observed)
    change_ids = rows.insert(CHANGES, changes)

    commands = _drop_known_keys(session, OUTBOX, OUTBOX.c.idempotency_key, commands, lambda c: c[0].idempotency_key)
    command_rows = []
    for command, run_id, index in commands:
        command_row = command_values(command, now)
        command_row["run_id"] = run_id
        command_row["change_id"] = None if index is None else change_ids[index]
        command_rows.append(command_row)
    command_ids = rows.insert(OUTBOX, command_rows)

    contact_ids = _update_cache(session, fresh, now)
    for plan in fresh:
        if plan.undo_of is not None:
            # What the undone run had not sent yet is never sent: its commands still pending are skipped.
            _SKIP_PENDING.run(session, {"why": "undone before it was sent", "now": now, "run": plan.undo_of})
            undone = _UNDO.run(session, {"run": plan.undo_of}).first()
            if undone is None:
                log.warning("run %s was already undone; its history is left as it is", plan.undo_of)
                continue
            _CHANGES_OF_RUN.run(session, {"sync": SyncState.UNDONE.value, "run": plan.undo_of}, _MADE)
    return CommitResult(
        tuple(close_ids), tuple(run_ids), tuple(change_ids), tuple(command_ids), contact_ids, duplicates, tuple(filled)
    )


def _name_referenced_runs(session: Session, run_rows: list[dict[str, Any]], run_ids: list[int]) -> None:
    """Put the stored id in place of each run reference a reason holds (a later workflow naming an earlier one)."""
    referring = [(row, run_id) for row, run_id in zip(run_rows, run_ids, strict=True) if "[run:" in row["reason"]]
    if not referring:
        return
    id_of = {row["key"]: run_id for row, run_id in zip(run_rows, run_ids, strict=True)}
    for row, run_id in referring:
        reason = RUN_REF.sub(lambda m: str(id_of.get(m.group(1), m.group(1))), row["reason"])
        _NAME_RUNS.run(session, {"why": reason, "run": run_id})


class _Inserter:
    """Inserts rows and hands back their ids, in the rows' order, as cheaply as the database allows.

    PostgreSQL returns the ids of a multi-row INSERT in order. SQLite cannot promise that order for a
    batch, so there the transaction first takes the write lock (bumping a commit counter), after which
    nobody else can insert, and the ids are allocated here from each table's current maximum and sent
    with the rows through the driver's own executemany.
    """

    def __init__(self, session: Session) -> None:
        self._session = session
        self._sqlite = session.get_bind().dialect.name == "sqlite"
        self._next: dict[str, int] = {}
        if self._sqlite:  # a compiled statement: this runs once per batch, and a batch may be a single close
            _COUNT_COMMIT.run(session, {"name": COMMIT_COUNTER})

    def insert(self, table: Table, rows: list[dict[str, Any]]) -> list[int]:
        if not rows:
            return []
        if not self._sqlite:
            returning = insert(table).returning(table.c.id, sort_by_parameter_order=True)
            return [int(i) for i in self._session.execute(returning, rows).scalars()]
        first = self._next.get(table.name)
        if first is None:
            current = _LAST_ID.run(self._session, None, table).scalar()
            first = int(current or 0) + 1
        ids = list(range(first, first + len(rows)))
        self._next[table.name] = first + len(rows)
        names = ("id", *rows[0])
        values = [(row_id, *row.values()) for row_id, row in zip(ids, rows, strict=True)]
        _INSERT.run_rows(self._session, names, values, table, names)
        return ids


def _drop_recorded_closes(
    session: Session, plans: Sequence[Plan], filled: list[tuple[int, ClosedConversation]]
) -> list[Plan]:
    """Plans whose close is new, judged inside the commit's transaction so no interleaving can double one.

    A close is known when its event id or (contact, closed time) is recorded, or it came earlier in this batch.
    A close the poll detected is known when the cache already shows its contact closed (a webhook recorded it
    since the poll read the cache), or, for a contact it found closed again, when a close at or after the
    reopening is recorded. A webhook close that arrives after the poll detected the same close (the
    latest close of that contact was detected by a poll recorded at or after this close's time) is known too:
    its facts (closed by, category, summary) fill in the detected close instead of making a second one.
    """
    closes = [p.close for p in plans if p.close is not None]
    known_events: set[str] = set()
    known_pairs: dict[tuple[int, int], tuple[int, str, float]] = {}  # (contact, time) -> as in `latest`
    latest: dict[int, tuple[int, str, float]] = {}  # contact -> (close id, source, recorded at) of its newest close
    latest_closed: dict[int, int] = {}  # contact -> the newest closed time recorded
    closed_in_cache: set[int] = set()
    for start in range(0, len(closes), LOOKUP_CHUNK):
        chunk = closes[start : start + LOOKUP_CHUNK]
        events = [c.event_id for c in chunk]
        contacts = list({c.contact.id for c in chunk})
        found = _CLOSES_KNOWN.run(
            session,
            {**sql.listed("event", events), **sql.listed("contact", contacts)},
            sql.slots(len(events)),
            sql.slots(len(contacts)),
        )
        for event_id, contact_id, closed_time, close_id, source, recorded_at in found:
            known_events.add(event_id)
            known_pairs[(contact_id, closed_time)] = (close_id, source, recorded_at)
            latest[contact_id] = (close_id, source, recorded_at)
            latest_closed[contact_id] = max(closed_time, latest_closed.get(contact_id, closed_time))
        polled = list({c.contact.id for c in chunk if c.closed_by_source is ClosedBySource.DETECTED_BY_POLL})
        if polled:
            closed_in_cache.update(
                contact_id
                for (contact_id,) in _SHOWN_CLOSED.run(session, sql.listed("contact", polled), sql.slots(len(polled)))
            )
    kept: list[Plan] = []
    for plan in plans:
        close = plan.close
        if close is not None:
            contact_id = close.contact.id
            pair = (contact_id, close.closed_time)
            if close.event_id in known_events:
                continue
            if close.closed_by_source is ClosedBySource.DETECTED_BY_POLL:
                if pair in known_pairs or _recorded_since_poll(close, latest_closed.get(contact_id), closed_in_cache):
                    log.info("contact %s: the poll's close was already recorded", contact_id)
                    continue
            elif (newest := known_pairs.get(pair) or latest.get(contact_id)) is not None:
                close_id, source, recorded_at = newest
                if source == ClosedBySource.DETECTED_BY_POLL.value and recorded_at >= close.closed_time:
                    if close_id:
                        _fill_in_detected_close(session, close_id, close)
                        filled.append((close_id, close))
                    known_events.add(close.event_id)
                    continue
                if pair in known_pairs:
                    continue
            known_events.add(close.event_id)
            entry = (0, close.closed_by_source.value, time.time())
            known_pairs[pair] = entry
            closed_in_cache.add(contact_id)
            latest[contact_id] = entry
            latest_closed[contact_id] = max(close.closed_time, latest_closed.get(contact_id, close.closed_time))
        kept.append(plan)
    return kept


def _recorded_since_poll(close: ClosedConversation, latest_closed: int | None, closed_in_cache: set[int]) -> bool:
    """Whether the close a poll detected is already recorded: a webhook committed it since the poll read the cache.

    The poll judged most contacts by the cache showing them open: shown closed now, a close came in since. A
    contact it found closed again (its `opened_time` a message after the close it knew) was already shown
    closed; its new close is recorded only once a close at or after that reopening is.
    """
    if close.opened_time is not None:
        return latest_closed is not None and latest_closed >= close.opened_time
    return close.contact.id in closed_in_cache


def _fill_in_detected_close(session: Session, close_id: int, close: ClosedConversation) -> None:
    """The webhook's facts about a close the poll detected first, written onto the detected close."""
    log.info("close %s (detected by poll) gets the facts of the late webhook %s", close_id, close.event_id)
    # The close's own row values name the placeholders; those the UPDATE does not use are left out.
    _FILL_IN.run(session, {**close_values(close, time.time()), "close": close_id})


def _drop_known_keys(session: Session, table: Table, column: Any, items: list[Any], key: Any) -> list[Any]:
    """Items whose unique key is neither stored yet nor repeated earlier in `items`."""
    keys = [key(item) for item in items]
    seen: set[str] = set()
    for start in range(0, len(keys), LOOKUP_CHUNK):
        chunk = keys[start : start + LOOKUP_CHUNK]
        found = _KEYS_STORED.run(session, sql.listed("key", chunk), column, sql.slots(len(chunk)))
        seen.update(value for (value,) in found)
    kept = []
    for item, item_key in zip(items, keys, strict=True):
        if item_key in seen:
            continue
        seen.add(item_key)
        kept.append(item)
    return kept


def _update_cache(session: Session, plans: Sequence[Plan], now: float) -> tuple[int, ...]:
    """Cache the platform's view of the plans' contacts with the planned assignee changes applied on top."""
    snapshots = {c.id: contact_values(c, now) for plan in plans for c in plan.contacts}
    updates: dict[int, dict[str, Any]] = {}
    for plan in plans:
        for update_ in plan.cache_updates:
            columns = assignee_columns(update_.assignee)
            if update_.contact_id in snapshots:
                snapshots[update_.contact_id].update(columns)
            else:
                updates[update_.contact_id] = {**columns, "updated_at": now, "seen_at": now}
    sql.upsert(session, CONTACTS, list(snapshots.values()), only_if=newer_snapshot)
    if updates:
        first = next(iter(updates.values()))
        session.execute(
            update(CONTACTS)
            .where(CONTACTS.c.id == bindparam("b_id"))
            .values({name: bindparam(name) for name in first}),
            [{"b_id": contact_id, **values} for contact_id, values in updates.items()],
        )
    return tuple(sorted(set(snapshots) | set(updates)))
