"""Benchmark of the history store: bulk insert, keyset pages, aggregates and CSV export over a large history.

Run it from the repository root:

    .venv/bin/python benchmarks/history_store.py            # 1,000,000 changes (several minutes)
    .venv/bin/python benchmarks/history_store.py --rows 100000

It builds a synthetic but realistically skewed history in a temporary folder (200 agents with a Zipf-like load,
400k contacts per million changes, 90 days with quiet weekends and busy business hours, mostly workflow
unassignments with some undos and platform reassignments, mostly synced) and prints progress lines, then one
JSON object on the last line.

`insert_rows_per_s` goes through `store.history.insert_many`; `raw_sqlite_rows_per_s` inserts the same rows,
in the same run, with plain `sqlite3.executemany` into a copy of the same empty migrated database (same
columns, same indexes, same pragmas). Both read the rows from one compact in-memory source built beforehand,
so neither pays for the random generation; the store's side also builds the `AssignmentChange` objects its
API takes. Query timings are medians of `--reps` runs after one warm-up, on a freshly reopened store.
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import random
import resource
import shutil
import sqlite3
import statistics
import tempfile
import time
from array import array
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from itertools import accumulate
from pathlib import Path
from typing import Any

from sqlalchemy import and_, select

from app.domain.history import AssignmentChange, ChangeSource, Cursor, HistoryFilter, SyncState
from app.domain.people import Agent, AgentRole, Contact, ContactStatus, Team, UserRef
from app.domain.workflows import (
    AssignAction,
    AssignToStep,
    Trigger,
    TriggerKind,
    Workflow,
    WorkflowState,
)
from app.storage.history import conditions
from app.storage.models import CHANGES
from app.storage.rows import change_from
from app.storage.store import Store

DAY = 86_400
DAYS = 90
AGENTS = 200
CONTACTS_PER_MILLION = 400_000
UTC_OFFSET = 2 * 3600  # the team's local zone; days and business hours are local
TEAM_ZONE = dt.timezone(dt.timedelta(seconds=UTC_OFFSET))
PAGE = 200
DEEP_PAGE = 500
CONTACT_CHUNK = 20_000
FIRST_AGENT_ID = 870_001
COLUMNS = (
    "contact_id",
    "conversation_id",
    "at",
    "from_agent_id",
    "to_agent_id",
    "source",
    "actor",
    "reason",
    "sync_state",
    "workflow_id",
    "run_id",
)
# What the export reads, as plain SQL.
EXPORT_SELECT = """
    SELECT c.at, c.contact_id, ct.first_name || ' ' || ct.last_name, c.conversation_id, c.from_agent_id,
           c.to_agent_id, c.source, c.actor, c.workflow_id, w.name, c.run_id, c.sync_state, c.reason
    FROM changes AS c
    LEFT JOIN contacts AS ct ON ct.id = c.contact_id
    LEFT JOIN workflows AS w ON w.id = c.workflow_id
    ORDER BY c.at DESC, c.id DESC
"""
# Pragmas the raw connection copies from the store's own connection, so both inserts run under the same settings.
COPIED_PRAGMAS = ("journal_mode", "synchronous", "cache_size", "temp_store", "mmap_size", "busy_timeout")

WORKFLOWS = (("Unassign on close", 60), ("Unassign VIP closes", 22), ("Night shift cleanup", 12), ("Bot handover", 6))
SOURCES = (ChangeSource.WORKFLOW, ChangeSource.UNDO, ChangeSource.PLATFORM)
SYNC_STATES = (SyncState.SYNCED, SyncState.PENDING, SyncState.FAILED, SyncState.UNDONE, SyncState.SKIPPED)
SUPERVISORS = ("Dana Whitfield", "Marco Ruiz", "Aiko Tanaka", "Sam O'Neill", "Priya Raman")
FIRST_NAMES = (
    "Ana", "Ben", "Chloe", "Dmitri", "Elif", "Farah", "Gus", "Hana", "Ivan", "Jia", "Kofi", "Lena", "Mateo",
    "Nadia", "Omar", "Paula", "Quinn", "Rosa", "Sven", "Tariq", "Uma", "Vera", "Wen", "Ximena", "Yusuf", "Zoe",
)  # fmt: skip
LAST_NAMES = (
    "Adams", "Becker", "Costa", "Dubois", "Eriksen", "Fischer", "García", "Haddad", "Ito", "Jensen", "Kowalski",
    "Lopez", "Müller", "Nakamura", "Okafor", "Petrov", "Quist", "Rossi", "Silva", "Tran", "Ueda", "Varga",
)  # fmt: skip
# Hour-of-day weights in local time: business hours dominate, nights are nearly empty.
HOUR_WEIGHTS = (0.2, 0.1, 0.1, 0.1, 0.1, 0.3, 0.6, 1.5, 4, 7, 8, 8, 6, 7, 8, 7, 6, 4, 2.5, 2, 1.5, 1, 0.6, 0.3)
# Day-of-week weights, Monday first (Monday catches up on the weekend).
WEEKDAY_WEIGHTS = (1.15, 1.0, 1.0, 0.95, 0.9, 0.3, 0.2)


@dataclass
class Texts:
    """The distinct actor and reason strings; rows hold indexes into these."""

    actors: list[str]
    reasons: list[str]


@dataclass
class History:
    """The generated rows, column by column, in compact arrays (about 40 bytes a row).

    Zero means NULL for `conversation`, `run`, `workflow`, `from_agent` and `to_agent`; agents are 1-based indexes.
    """

    at: array[float]
    contact: array[int]
    conversation: array[int]
    from_agent: array[int]
    to_agent: array[int]
    source: array[int]
    actor: array[int]
    reason: array[int]
    sync: array[int]
    workflow: array[int]
    run: array[int]
    texts: Texts
    agent_ids: list[int | None]
    workflow_ids: list[int | None]
    start: float
    end: float

    def __len__(self) -> int:
        return len(self.at)


def log(message: str) -> None:
    print(f"[{time.strftime('%H:%M:%S')}] {message}", flush=True)


def zipf_cum_weights(n: int, exponent: float) -> list[float]:
    return list(accumulate(1.0 / (rank**exponent) for rank in range(1, n + 1)))


def generate(rows: int, contacts: int, workflow_ids: list[int], seed: int) -> History:
    """A chronological history of `rows` changes over the last 90 local days."""
    rng = random.Random(seed)
    end = float(((int(time.time()) + UTC_OFFSET) // DAY) * DAY - UTC_OFFSET)  # the last local midnight
    start = end - DAYS * DAY

    day_weights = [
        WEEKDAY_WEIGHTS[((int(start) + UTC_OFFSET) // DAY + day + 3) % 7] * rng.uniform(0.85, 1.15)
        for day in range(DAYS)
    ]  # 1970-01-01 was a Thursday, hence the + 3
    total_weight = sum(day_weights)
    per_day = [int(rows * w / total_weight) for w in day_weights]
    for day in range(rows - sum(per_day)):
        per_day[day % DAYS] += 1

    actors = [f"Workflow “{name}”" for name, _ in WORKFLOWS] + [f"{s} (supervisor)" for s in SUPERVISORS]
    actors += ["respond.io", "respond.io API"]
    platform_actor = len(WORKFLOWS) + len(SUPERVISORS)
    reasons = [
        "Conversation closed by the assignee; unassigned",
        "Conversation closed by a workflow; unassigned",
        "Conversation closed by the bot; unassigned",
        "Closed with category “Resolved”; unassigned",
        "Closed with category “Spam”; unassigned",
        "Closed after 7 days without a reply; unassigned",
        "Undo: the contact wrote back within 10 minutes",
        "Undo: closed by mistake",
        "Undo of a whole run from the history",
        "Reassigned on the platform",
        "Unassigned on the platform",
        "Assigned on the platform by a workflow",
        '=HYPERLINK("x") pasted into a note',  # a cell the export must neutralise
    ]
    texts = Texts(actors, reasons)

    agent_cum = zipf_cum_weights(AGENTS, 0.8)
    agent_pick = list(range(1, AGENTS + 1))
    workflow_cum = list(accumulate(w for _, w in WORKFLOWS))
    hour_cum = list(accumulate(HOUR_WEIGHTS))
    hours = list(range(24))

    history = History(
        at=array("d"),
        contact=array("i"),
        conversation=array("i"),
        from_agent=array("H"),
        to_agent=array("H"),
        source=array("B"),
        actor=array("B"),
        reason=array("B"),
        sync=array("B"),
        workflow=array("B"),
        run=array("i"),
        texts=texts,
        agent_ids=[None, *range(FIRST_AGENT_ID, FIRST_AGENT_ID + AGENTS)],
        workflow_ids=[None, *workflow_ids],
        start=start,
        end=end,
    )
    h = history
    random_ = rng.random
    next_run = 0
    next_conversation = 0
    for day, count in enumerate(per_day):
        base = start + day * DAY
        stamps = sorted(
            base + hour * 3600 + random_() * 3600 for hour in rng.choices(hours, cum_weights=hour_cum, k=count)
        )
        agents = rng.choices(agent_pick, cum_weights=agent_cum, k=count)
        recent = day >= DAYS - 1
        for at, agent in zip(stamps, agents, strict=True):
            h.at.append(at)
            h.contact.append(1 + int(contacts * random_() ** 1.6))
            kind = random_()
            roll = random_()
            if kind < 0.86:  # a workflow unassigned the contact after a close
                workflow = rng.choices((1, 2, 3, 4), cum_weights=workflow_cum)[0]
                next_run += 1
                next_conversation += 1
                h.source.append(0)
                h.from_agent.append(agent)
                h.to_agent.append(0)
                h.workflow.append(workflow)
                h.run.append(next_run)
                h.conversation.append(next_conversation)
                h.actor.append(workflow - 1)
                h.reason.append(int(roll * 6) if roll < 0.999 else 12)
                h.sync.append(workflow_sync(random_(), pending=0.25 if recent else 0.01))
            elif kind < 0.91:  # a supervisor undid an unassignment: back to the agent
                h.source.append(1)
                h.from_agent.append(0)
                h.to_agent.append(agent)
                h.workflow.append(rng.choices((1, 2, 3, 4), cum_weights=workflow_cum)[0])
                h.run.append(max(1, next_run - int(roll * 2000)))
                h.conversation.append(max(1, next_conversation - int(roll * 2000)))
                h.actor.append(len(WORKFLOWS) + int(roll * len(SUPERVISORS)))
                h.reason.append(6 + int(roll * 3))
                h.sync.append(0 if roll > 0.03 else 2)
            else:  # seen on the platform: a reassignment, an unassignment or an assignment
                other = rng.choices(agent_pick, cum_weights=agent_cum)[0]
                h.source.append(2)
                if roll < 0.6:
                    h.from_agent.append(agent)
                    h.to_agent.append(other)
                    h.reason.append(9)
                elif roll < 0.8:
                    h.from_agent.append(agent)
                    h.to_agent.append(0)
                    h.reason.append(10)
                else:
                    h.from_agent.append(0)
                    h.to_agent.append(agent)
                    h.reason.append(11)
                h.workflow.append(0)
                h.run.append(0)
                h.conversation.append(0)
                h.actor.append(platform_actor + (roll < 0.1))
                h.sync.append(0 if roll > 0.005 else 4)
    return history


def workflow_sync(roll: float, pending: float) -> int:
    """A workflow change's sync state (an index into SYNC_STATES): mostly synced, recent ones often pending."""
    if roll < pending:
        return 1
    if roll < pending + 0.02:
        return 2  # failed
    if roll < pending + 0.04:
        return 3  # undone
    return 0


def row_tuples(h: History, *, enums: bool, chunk: int = 20_000) -> Iterator[tuple[Any, ...]]:
    """The rows in COLUMNS order, decoded chunk by chunk (NULLs, agent ids, strings or enum members)."""
    agents = h.agent_ids
    workflows = h.workflow_ids
    actors = h.texts.actors
    reasons = h.texts.reasons
    sources: tuple[Any, ...] = SOURCES if enums else tuple(s.value for s in SOURCES)
    syncs: tuple[Any, ...] = SYNC_STATES if enums else tuple(s.value for s in SYNC_STATES)
    for lo in range(0, len(h), chunk):
        hi = min(lo + chunk, len(h))
        yield from zip(
            h.contact[lo:hi],
            [c or None for c in h.conversation[lo:hi]],
            h.at[lo:hi],
            [agents[a] for a in h.from_agent[lo:hi]],
            [agents[a] for a in h.to_agent[lo:hi]],
            [sources[s] for s in h.source[lo:hi]],
            [actors[a] for a in h.actor[lo:hi]],
            [reasons[r] for r in h.reason[lo:hi]],
            [syncs[s] for s in h.sync[lo:hi]],
            [workflows[w] for w in h.workflow[lo:hi]],
            [r or None for r in h.run[lo:hi]],
            strict=True,
        )


def assignment_changes(h: History) -> Iterator[AssignmentChange]:
    """The rows as the domain objects `insert_many` takes."""
    for contact, conversation, at, from_agent, to_agent, source, actor, reason, sync, workflow, run in row_tuples(
        h, enums=True
    ):
        yield AssignmentChange(
            contact_id=contact,
            at=at,
            from_agent_id=from_agent,
            to_agent_id=to_agent,
            source=source,
            actor=actor,
            reason=reason,
            sync_state=sync,
            conversation_id=conversation,
            workflow_id=workflow,
            run_id=run,
        )


def make_agents() -> list[Agent]:
    rng = random.Random(7)
    teams = [Team(10 + i, name) for i, name in enumerate(("Sales", "Support", "Billing", "VIP", "Night"))]
    agents = []
    for i in range(AGENTS):
        first, last = rng.choice(FIRST_NAMES), rng.choice(LAST_NAMES)
        agents.append(
            Agent(
                id=FIRST_AGENT_ID + i,
                first_name=first,
                last_name=last,
                email=f"{first.lower()}.{i}@example.com",
                role=AgentRole.MANAGER if i % 25 == 0 else AgentRole.AGENT,
                team=teams[i % len(teams)],
            )
        )
    return agents


def make_contacts(count: int, seed: int) -> Iterator[list[Contact]]:
    rng = random.Random(seed)
    batch: list[Contact] = []
    for contact_id in range(1, count + 1):
        if rng.random() < 0.06:  # contacts known only by their phone number
            first, last = f"+44 7{rng.randrange(10**9):09d}", ""
        else:
            first, last = rng.choice(FIRST_NAMES), rng.choice(LAST_NAMES)
        assigned = rng.random() < 0.3
        agent = FIRST_AGENT_ID + rng.randrange(AGENTS)
        batch.append(
            Contact(
                id=contact_id,
                first_name=first,
                last_name=last,
                phone=f"+44 7{rng.randrange(10**9):09d}",
                email=f"c{contact_id}@example.org" if rng.random() < 0.5 else None,
                assignee=UserRef(agent, "", "", "") if assigned else None,
                status=ContactStatus.OPEN if assigned else ContactStatus.CLOSED,
                tags=("vip",) if rng.random() < 0.05 else (),
                created_at=1_700_000_000 + contact_id,
            )
        )
        if len(batch) >= CONTACT_CHUNK:
            yield batch
            batch = []
    if batch:
        yield batch


def plain_in_page(store: Store, flt: HistoryFilter) -> tuple[AssignmentChange, ...]:
    """A first page of `flt` as one SELECT with its sets as IN lists: the baseline the merged branches beat."""
    c = CHANGES.c
    statement = select(CHANGES).where(and_(True, *conditions(flt))).order_by(c.at.desc(), c.id.desc()).limit(PAGE)
    with store.db.sessions() as session:
        return tuple(change_from(r) for r in session.execute(statement).mappings())


def median_ms(fn: Callable[[], object], reps: int) -> float:
    """The median wall time of `fn` in milliseconds, after one untimed warm-up call."""
    fn()
    times = []
    for _ in range(reps):
        t0 = time.perf_counter()
        fn()
        times.append((time.perf_counter() - t0) * 1000)
    return round(statistics.median(times), 2)


def url(path: Path) -> str:
    return f"sqlite:///{path}"


def store_pragmas(store: Store) -> dict[str, Any]:
    """The pragmas the store's connections run with."""
    with store.db.engine.connect() as connection:
        driver = connection.connection.dbapi_connection
        assert isinstance(driver, sqlite3.Connection)
        return {name: driver.execute(f"PRAGMA {name}").fetchone()[0] for name in COPIED_PRAGMAS}


def raw_insert(path: Path, h: History, pragmas: dict[str, Any]) -> float:
    """Seconds to insert every row with plain sqlite3 executemany, in one transaction."""
    connection = sqlite3.connect(path, isolation_level=None)
    for name, value in pragmas.items():
        connection.execute(f"PRAGMA {name}={value}")
    statement = f"INSERT INTO changes ({', '.join(COLUMNS)}) VALUES ({', '.join('?' * len(COLUMNS))})"
    t0 = time.perf_counter()
    connection.execute("BEGIN")
    connection.executemany(statement, row_tuples(h, enums=False))
    connection.execute("COMMIT")
    elapsed = time.perf_counter() - t0
    connection.close()
    return elapsed


def store_insert(path: Path, h: History) -> float:
    """Seconds for `insert_many` to insert every row, as AssignmentChange objects built on the fly."""
    store = Store.open(url(path))
    try:
        t0 = time.perf_counter()
        inserted = store.history.insert_many(assignment_changes(h))
        elapsed = time.perf_counter() - t0
    finally:
        store.close()
    assert inserted == len(h), (inserted, len(h))
    return elapsed


def remove_database(path: Path) -> None:
    for suffix in ("", "-wal", "-shm"):
        Path(str(path) + suffix).unlink(missing_ok=True)


def raw_fetch(path: Path, pragmas: dict[str, Any]) -> float:
    """Seconds to only read the export's columns and joins with plain sqlite3: the ceiling for any export."""
    connection = sqlite3.connect(path)
    for name, value in pragmas.items():
        connection.execute(f"PRAGMA {name}={value}")
    t0 = time.perf_counter()
    cursor = connection.execute(EXPORT_SELECT)
    while cursor.fetchmany(5000):
        pass
    elapsed = time.perf_counter() - t0
    connection.close()
    return elapsed


def history_bytes(path: Path) -> int:
    """Bytes on disk of the changes table and its indexes (from SQLite's dbstat)."""
    connection = sqlite3.connect(path)
    try:
        names = [r[0] for r in connection.execute("SELECT name FROM sqlite_schema WHERE tbl_name = 'changes'")]
        marks = ", ".join("?" * len(names))
        return int(connection.execute(f"SELECT sum(pgsize) FROM dbstat WHERE name IN ({marks})", names).fetchone()[0])
    finally:
        connection.close()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rows", type=int, default=1_000_000, help="history rows (default 1,000,000)")
    parser.add_argument("--reps", type=int, default=7, help="timed repetitions per query (median reported)")
    parser.add_argument("--export-reps", type=int, default=3, help="full exports to time (median reported)")
    parser.add_argument(
        "--insert-reps", type=int, default=2, help="raw and store inserts to time, alternately (fastest reported)"
    )
    parser.add_argument("--seed", type=int, default=20240601)
    parser.add_argument("--dir", type=Path, default=None, help="where to build the databases (default: a temp dir)")
    parser.add_argument("--keep", action="store_true", help="keep the databases (prints where)")
    args = parser.parse_args()
    rows: int = args.rows
    contacts = max(1_000, round(CONTACTS_PER_MILLION * rows / 1_000_000))
    work = Path(tempfile.mkdtemp(prefix="closeout-bench-", dir=args.dir))
    try:
        result = run(work, rows, contacts, args.reps, args.export_reps, args.insert_reps, args.seed)
    finally:
        if args.keep:
            log(f"kept {work}")
        else:
            shutil.rmtree(work, ignore_errors=True)
    print(json.dumps(result))


def run(
    work: Path, rows: int, contacts: int, reps: int, export_reps: int, insert_reps: int, seed: int
) -> dict[str, Any]:
    log(f"benchmark: {rows:,} changes, {AGENTS} agents, {contacts:,} contacts, {DAYS} days, in {work}")
    template, store_path, cached_path = work / "empty.db", work / "history.db", work / "cached.db"
    empty = Store.open(url(template))
    empty.close()
    shutil.copyfile(template, store_path)

    # Caches and workflows: timed, but apart from the history inserts.
    store = Store.open(url(store_path))
    pragmas = store_pragmas(store)
    t0 = time.perf_counter()
    store.cache.upsert_agents(make_agents())
    cached = sum(store.cache.upsert_contacts(batch) for batch in make_contacts(contacts, seed + 1))
    cache_s = time.perf_counter() - t0
    trigger = Trigger(TriggerKind.CONVERSATION_CLOSED)
    workflow_ids = []
    for name, _ in WORKFLOWS:
        saved = store.workflows.save(
            Workflow(name, trigger, (AssignToStep(AssignAction.UNASSIGN),), state=WorkflowState.PUBLISHED)
        )
        assert saved.id is not None
        workflow_ids.append(saved.id)
    agent_names = {a.id: a.name for a in store.cache.agents()}
    store.close()
    shutil.copyfile(store_path, cached_path)  # where every store insert after the first starts again
    log(f"cached {AGENTS} agents and {cached:,} contacts in {cache_s:.1f} s ({cached / cache_s:,.0f} rows/s)")

    t0 = time.perf_counter()
    history = generate(rows, contacts, workflow_ids, seed)
    log(f"generated {len(history):,} changes in {time.perf_counter() - t0:.1f} s (not timed as inserts)")

    t0 = time.perf_counter()
    decoded = sum(1 for _ in assignment_changes(history))
    source_s = time.perf_counter() - t0
    log(f"building the AssignmentChange objects alone: {decoded / source_s:,.0f} rows/s")

    # Raw and store inserts alternate, each into a fresh copy, so both see the same noise; the fastest counts.
    log(f"inserts: raw sqlite3 with the store's pragmas {pragmas}, then the store, {insert_reps} times")
    raw_times: list[float] = []
    store_times: list[float] = []
    for attempt in range(insert_reps):
        raw_path = work / "raw.db"
        shutil.copyfile(template, raw_path)
        raw_times.append(raw_insert(raw_path, history, pragmas))
        remove_database(raw_path)
        log(f"raw sqlite3 executemany: {raw_times[-1]:.1f} s, {rows / raw_times[-1]:,.0f} rows/s")
        target = store_path if attempt == 0 else work / "again.db"  # the first one is kept for the queries
        if attempt:
            shutil.copyfile(cached_path, target)
        store_times.append(store_insert(target, history))
        if attempt:
            remove_database(target)
        ratio = raw_times[-1] / store_times[-1]
        log(f"store insert_many: {store_times[-1]:.1f} s, {rows / store_times[-1]:,.0f} rows/s ({ratio:.2f} x raw)")
    remove_database(cached_path)
    raw_rate = rows / min(raw_times)
    insert_rate = rows / min(store_times)
    end, start = history.end, history.start
    del history

    db_bytes = store_path.stat().st_size
    per_row = history_bytes(store_path) / rows
    log(f"database file {db_bytes / 1e6:.1f} MB; history table and indexes {per_row:.0f} bytes a row")

    # Queries, on a freshly reopened store.
    store = Store.open(url(store_path))
    history_ = store.history
    busiest = FIRST_AGENT_ID  # rank 1 of the Zipf load
    quietest = FIRST_AGENT_ID + AGENTS - 1
    last_30 = end - 30 * DAY
    figures: dict[str, float] = {}

    figures["first_page_ms"] = median_ms(lambda: history_.page(HistoryFilter(), None, PAGE), reps)
    log(f"first page: {figures['first_page_ms']} ms")
    busy = HistoryFilter(since=last_30, agent_id=busiest)
    figures["filtered_page_ms"] = median_ms(lambda: history_.page(busy, None, PAGE), reps)
    quiet = HistoryFilter(since=last_30, agent_id=quietest)
    figures["filtered_page_quiet_agent_ms"] = median_ms(lambda: history_.page(quiet, None, PAGE), reps)
    log(
        f"filtered page (last 30 days): busiest agent {figures['filtered_page_ms']} ms, "
        f"quietest {figures['filtered_page_quiet_agent_ms']} ms"
    )

    # A team (a fifth of the agents) and a name several contacts share, as the history's filters send them:
    # each member or contact a branch read from its own index, beside the same filter as one plain IN list.
    members = tuple(a.id for a in store.cache.agents() if a.team is not None and a.team.id == 10)
    team = HistoryFilter(since=last_30, agent_ids=members)
    figures["team_page_ms"] = median_ms(lambda: history_.page(team, None, PAGE), reps)
    figures["team_page_plain_in_ms"] = median_ms(lambda: plain_in_page(store, team), reps)
    figures["team_count_ms"] = median_ms(lambda: history_.count(team), reps)
    name = FIRST_NAMES[0].lower()
    figures["contact_search_ms"] = median_ms(lambda: store.cache.find(name, 100), reps)
    named = tuple(c.id for c in store.cache.find(name, 100))
    contacts_filter = HistoryFilter(contact_ids=named)
    figures["contacts_page_ms"] = median_ms(lambda: history_.page(contacts_filter, None, PAGE), reps)
    figures["contacts_page_plain_in_ms"] = median_ms(lambda: plain_in_page(store, contacts_filter), reps)
    assert history_.page(team, None, PAGE).rows == plain_in_page(store, team)
    assert history_.page(contacts_filter, None, PAGE).rows == plain_in_page(store, contacts_filter)
    log(
        f"team of {len(members)} (30 days): page {figures['team_page_ms']} ms "
        f"(as one IN list {figures['team_page_plain_in_ms']} ms), count {figures['team_count_ms']} ms; "
        f"contacts named {name!r}: search {figures['contact_search_ms']} ms, {len(named)} found, "
        f"page {figures['contacts_page_ms']} ms (as one IN list {figures['contacts_page_plain_in_ms']} ms)"
    )

    cursor: Cursor | None = None
    page_number = 1
    walk_start = time.perf_counter()
    while page_number < DEEP_PAGE:
        page = history_.page(HistoryFilter(), cursor, PAGE)
        if page.next is None:
            break
        cursor = page.next
        page_number += 1
    walk_s = time.perf_counter() - walk_start
    deep_cursor = cursor
    figures["deep_page_ms"] = median_ms(lambda: history_.page(HistoryFilter(), deep_cursor, PAGE), reps)
    log(f"page {page_number} (after walking {page_number - 1} pages in {walk_s:.1f} s): {figures['deep_page_ms']} ms")

    figures["count_ms"] = median_ms(lambda: history_.count(HistoryFilter()), reps)
    ninety = HistoryFilter(since=start, until=end)
    figures["per_day_by_source_ms"] = median_ms(lambda: history_.per_day_by_source(ninety, TEAM_ZONE), reps)
    figures["per_agent_ms"] = median_ms(lambda: history_.per_agent(ninety), reps)
    days = history_.per_day_by_source(ninety, TEAM_ZONE)
    assert sum(n for _, _, n in days) == rows, "the 90 days hold every row"
    assert history_.count(HistoryFilter()) == rows
    log(
        f"count {figures['count_ms']} ms, per day by source {figures['per_day_by_source_ms']} ms "
        f"({len(days)} groups), per agent {figures['per_agent_ms']} ms"
    )

    export_path = work / "history.csv"
    export_times = []
    fetch_times = []
    for i in range(export_reps):
        t0 = time.perf_counter()
        written = store.exporter.to_path(export_path, HistoryFilter(), agent_names, lambda done, total: True)
        export_times.append(time.perf_counter() - t0)
        assert written == rows, (written, rows)
        fetch_times.append(raw_fetch(store_path, pragmas))
        log(
            f"export {i + 1}: {export_times[-1]:.1f} s, {rows / export_times[-1]:,.0f} rows/s; "
            f"only fetching its columns with sqlite3: {rows / fetch_times[-1]:,.0f} rows/s"
        )
    export_bytes = export_path.stat().st_size
    export_path.unlink()
    store.close()

    peak_rss_mb = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024  # KiB on Linux
    return {
        "rows": rows,
        "insert_rows_per_s": round(insert_rate),
        "raw_sqlite_rows_per_s": round(raw_rate),
        "insert_vs_raw": round(insert_rate / raw_rate, 3),
        "first_page_ms": figures["first_page_ms"],
        "filtered_page_ms": figures["filtered_page_ms"],
        "filtered_page_quiet_agent_ms": figures["filtered_page_quiet_agent_ms"],
        "team_page_ms": figures["team_page_ms"],
        "team_page_plain_in_ms": figures["team_page_plain_in_ms"],
        "team_count_ms": figures["team_count_ms"],
        "contact_search_ms": figures["contact_search_ms"],
        "contacts_page_ms": figures["contacts_page_ms"],
        "contacts_page_plain_in_ms": figures["contacts_page_plain_in_ms"],
        "deep_page_ms": figures["deep_page_ms"],
        "deep_page_number": page_number,
        "count_ms": figures["count_ms"],
        "per_day_by_source_ms": figures["per_day_by_source_ms"],
        "per_agent_ms": figures["per_agent_ms"],
        "export_rows_per_s": round(rows / statistics.median(export_times)),
        "export_fetch_only_rows_per_s": round(rows / statistics.median(fetch_times)),
        "export_bytes_per_row": round(export_bytes / rows, 1),
        "db_bytes_per_row": round(per_row, 1),
        "db_file_bytes": db_bytes,
        "cache_rows_per_s": round(cached / cache_s),
        "peak_rss_mb": round(peak_rss_mb, 1),
    }


if __name__ == "__main__":
    main()
