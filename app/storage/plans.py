"""Committing plans: a close, its runs, history rows, outbox commands and cache updates, all or nothing.

Many plans can share one transaction (the engine batches under load); each statement is then one
multi-row INSERT per table, which is what keeps intake close to raw SQLite speed.
"""

from __future__ import annotations

import time
from collections.abc import Sequence
from dataclasses import dataclass, replace
from typing import Any

from sqlalchemy import Table, bindparam, insert, select, update
from sqlalchemy.orm import Session, sessionmaker

from app.domain.history import SyncState
from app.domain.plan import Plan, PlannedRun
from app.storage.cache import upsert
from app.storage.models import CHANGES, CLOSES, CONTACTS, OUTBOX, RUNS
from app.storage.rows import assignee_columns, change_values, close_values, command_values, contact_values, run_values

LOOKUP_CHUNK = 500


@dataclass(frozen=True, slots=True)
class CommitResult:
    """The ids a commit wrote, and how many plans were dropped as replays of a recorded close."""

    closes: tuple[int, ...] = ()
    runs: tuple[int, ...] = ()
    changes: tuple[int, ...] = ()
    commands: tuple[int, ...] = ()
    contacts: tuple[int, ...] = ()
    duplicates: int = 0


class PlanWriter:
    """Writes plans; the only code that inserts closes, runs, changes and commands."""

    def __init__(self, sessions: sessionmaker[Session]) -> None:
        """Work through `sessions`, one transaction per call."""
        self._sessions = sessions

    def commit(self, plan: Plan) -> CommitResult:
        """Commit one plan in one transaction."""
        return self.commit_many([plan])

    def commit_many(self, plans: Sequence[Plan]) -> CommitResult:
        """Commit several plans in one transaction: all of them, or (on any error) none."""
        with self._sessions.begin() as session:
            return _write(session, plans, time.time())


def _write(session: Session, plans: Sequence[Plan], now: float) -> CommitResult:
    fresh = _drop_recorded_closes(session, plans)
    duplicates = len(plans) - len(fresh)

    with_close = [p for p in fresh if p.close is not None]
    close_ids = _insert_returning(session, CLOSES, [close_values(p.close, now) for p in with_close if p.close])
    close_id_of = {id(p): cid for p, cid in zip(with_close, close_ids, strict=True)}

    planned: list[tuple[PlannedRun, int | None]] = []
    for plan in fresh:
        for planned_run in plan.runs:
            planned.append((planned_run, close_id_of.get(id(plan), planned_run.run.conversation_id)))
    planned = _drop_known_keys(session, RUNS, RUNS.c.key, planned, lambda item: item[0].run.key)
    run_ids = _insert_returning(
        session, RUNS, [run_values(replace(pr.run, conversation_id=conv)) for pr, conv in planned]
    )

    changes: list[dict[str, Any]] = []
    commands: list[tuple[Any, int, int | None]] = []
    for (planned_run, conversation_id), run_id in zip(planned, run_ids, strict=True):
        for action in planned_run.actions:
            change_index = None
            if action.change is not None:
                change_index = len(changes)
                changes.append(
                    change_values(
                        replace(
                            action.change,
                            run_id=run_id,
                            conversation_id=action.change.conversation_id or conversation_id,
                            workflow_id=action.change.workflow_id or planned_run.run.workflow_id,
                        )
                    )
                )
            if action.command is not None:
                commands.append((action.command, run_id, change_index))
    changes.extend(change_values(change) for plan in fresh for change in plan.observed)
    change_ids = _insert_returning(session, CHANGES, changes)

    commands = _drop_known_keys(session, OUTBOX, OUTBOX.c.idempotency_key, commands, lambda c: c[0].idempotency_key)
    command_rows = [
        command_values(
            replace(command, run_id=run_id, change_id=None if index is None else change_ids[index]),
            now,
        )
        for command, run_id, index in commands
    ]
    command_ids = _insert_returning(session, OUTBOX, command_rows)

    contact_ids = _update_cache(session, fresh, now)
    for plan in fresh:
        if plan.undo_of is not None:
            session.execute(update(RUNS).where(RUNS.c.id == plan.undo_of).values(undone=True))
            session.execute(
                update(CHANGES).where(CHANGES.c.run_id == plan.undo_of).values(sync_state=SyncState.UNDONE.value)
            )
    return CommitResult(
        tuple(close_ids), tuple(run_ids), tuple(change_ids), tuple(command_ids), contact_ids, duplicates
    )


def _insert_returning(session: Session, table: Table, rows: list[dict[str, Any]]) -> list[int]:
    """Insert rows in one multi-row statement per batch and return their ids in the rows' order."""
    if not rows:
        return []
    statement = insert(table).returning(table.c.id, sort_by_parameter_order=True)
    return [int(i) for i in session.execute(statement, rows).scalars()]


def _drop_recorded_closes(session: Session, plans: Sequence[Plan]) -> list[Plan]:
    """Plans whose close is new: not recorded before (by event id or contact + time), nor earlier in this batch."""
    closes = [p.close for p in plans if p.close is not None]
    known_events: set[str] = set()
    known_pairs: set[tuple[int, int]] = set()
    for start in range(0, len(closes), LOOKUP_CHUNK):
        chunk = closes[start : start + LOOKUP_CHUNK]
        events = [c.event_id for c in chunk]
        contacts = list({c.contact.id for c in chunk})
        statement = select(CLOSES.c.event_id, CLOSES.c.contact_id, CLOSES.c.closed_time).where(
            CLOSES.c.event_id.in_(events) | CLOSES.c.contact_id.in_(contacts)
        )
        for event_id, contact_id, closed_time in session.execute(statement):
            known_events.add(event_id)
            known_pairs.add((contact_id, closed_time))
    kept: list[Plan] = []
    for plan in plans:
        close = plan.close
        if close is not None:
            pair = (close.contact.id, close.closed_time)
            if close.event_id in known_events or pair in known_pairs:
                continue
            known_events.add(close.event_id)
            known_pairs.add(pair)
        kept.append(plan)
    return kept


def _drop_known_keys(session: Session, table: Table, column: Any, items: list[Any], key: Any) -> list[Any]:
    """Items whose unique key is neither stored yet nor repeated earlier in `items`."""
    keys = [key(item) for item in items]
    seen: set[str] = set()
    for start in range(0, len(keys), LOOKUP_CHUNK):
        chunk = keys[start : start + LOOKUP_CHUNK]
        seen.update(session.execute(select(column).where(column.in_(chunk))).scalars())
    kept = []
    for item, item_key in zip(items, keys, strict=True):
        if item_key in seen:
            continue
        seen.add(item_key)
        kept.append(item)
    return kept


def _update_cache(session: Session, plans: Sequence[Plan], now: float) -> tuple[int, ...]:
    """Cache the platform's view of the plans' contacts, then apply the planned assignee changes."""
    snapshots = {c.id: contact_values(c, now) for plan in plans for c in plan.contacts}
    upsert(session, CONTACTS, list(snapshots.values()))
    updates = [
        {"b_id": u.contact_id, "updated_at": now, **assignee_columns(u.assignee)}
        for plan in plans
        for u in plan.cache_updates
    ]
    if updates:
        session.execute(
            update(CONTACTS)
            .where(CONTACTS.c.id == bindparam("b_id"))
            .values({name: bindparam(name) for name in updates[0] if name != "b_id"}),
            updates,
        )
    return tuple(sorted(set(snapshots) | {u["b_id"] for u in updates}))
