"""Benchmark of shared mode: the history queries on PostgreSQL beside SQLite, runner failover, notify latency.

Run it from the repository root:

    .venv/bin/python benchmarks/shared_mode.py                 # 1,000,000 changes on each database
    .venv/bin/python benchmarks/shared_mode.py --rows 100000

PostgreSQL is the database `CLOSEOUT_BENCH_PG_URL` names (it must be empty or disposable: the benchmark creates a
database of its own on that server), or a throwaway cluster started as the tests start theirs. The history is the
one `history_store.py` builds (same generator, same filters), inserted through the store into a SQLite file and
into PostgreSQL; each query is the median of `--reps` runs after a warm-up. `failover_s` is the time from
`kill -9` of a `closeout-cli sync --forever` runner to the other candidate holding the runner lease (real
processes against the loopback fake); `notify_latency_ms_p99` is from a commit returning in one Store to
another Store's change feed reporting it. Progress goes to stderr; one JSON object is the last line.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import os
import signal
import statistics
import sys
import tempfile
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
sys.path[:0] = [str(ROOT), str(ROOT / "benchmarks")]

import history_store as hs  # noqa: E402
from sqlalchemy import create_engine, text  # noqa: E402
from sqlalchemy.engine import make_url  # noqa: E402

from app.domain.history import Cursor, HistoryFilter  # noqa: E402
from app.domain.workflows import AssignAction, AssignToStep, Trigger, TriggerKind, Workflow, WorkflowState  # noqa: E402
from app.storage.change_feed import NotifyChangeFeed  # noqa: E402
from app.storage.store import Store  # noqa: E402

log = hs.log


@contextlib.contextmanager
def postgres() -> Iterator[str]:
    """A fresh database on CLOSEOUT_BENCH_PG_URL's server, or on a throwaway cluster; its URL."""
    from tests import pg

    with contextlib.ExitStack() as stack:
        given = os.environ.get("CLOSEOUT_BENCH_PG_URL")
        if given:
            admin = make_url(given)
        else:
            bin_dir = pg.find_bin_dir()
            if bin_dir is None:
                raise SystemExit(pg.INSTALL_HINT)
            admin = stack.enter_context(pg.cluster(bin_dir)).admin
        name = f"closeout_bench_{os.getpid()}"
        engine = create_engine(admin.render_as_string(hide_password=False), isolation_level="AUTOCOMMIT")
        with engine.connect() as connection:
            connection.execute(text(f'CREATE DATABASE "{name}"'))
        try:
            yield admin.set(database=name).render_as_string(hide_password=False)
        finally:
            with engine.connect() as connection:
                connection.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
            engine.dispose()


def seed(url: str, rows: int, seed_: int) -> tuple[int, int]:
    """Fill the store at `url` as history_store.py does; the history's first and last second."""
    contacts = max(1000, rows * hs.CONTACTS_PER_MILLION // 1_000_000)
    store = Store.open(url)
    try:
        store.cache.upsert_agents(hs.make_agents())
        for batch in hs.make_contacts(contacts, seed_ + 1):
            store.cache.upsert_contacts(batch)
        trigger = Trigger(TriggerKind.CONVERSATION_CLOSED)
        ids = []
        for name, _ in hs.WORKFLOWS:
            saved = store.workflows.save(
                Workflow(name, trigger, (AssignToStep(AssignAction.UNASSIGN),), state=WorkflowState.PUBLISHED)
            )
            assert saved.id is not None
            ids.append(saved.id)
        history = hs.generate(rows, contacts, ids, seed_)
        t0 = time.perf_counter()
        inserted = store.history.insert_many(hs.assignment_changes(history))
        log(f"{make_url(url).get_backend_name()}: inserted {inserted:,} changes in {time.perf_counter() - t0:.1f} s")
        if make_url(url).get_backend_name() == "postgresql":
            with store.db.engine.connect() as connection:  # fresh statistics, as autovacuum would leave them
                connection.execution_options(isolation_level="AUTOCOMMIT").exec_driver_sql("VACUUM ANALYZE")
        return history.start, history.end
    finally:
        store.close()


def queries(url: str, start: int, end: int, reps: int) -> dict[str, float]:
    """The history's page and aggregate timings, named as history_store.py names them."""
    store = Store.open(url)
    try:
        history = store.history
        figures: dict[str, float] = {}
        figures["first_page_ms"] = hs.median_ms(lambda: history.page(HistoryFilter(), None, hs.PAGE), reps)
        busy = HistoryFilter(since=end - 30 * hs.DAY, agent_id=hs.FIRST_AGENT_ID)
        figures["filtered_page_ms"] = hs.median_ms(lambda: history.page(busy, None, hs.PAGE), reps)
        cursor: Cursor | None = None
        for _ in range(hs.DEEP_PAGE - 1):
            page = history.page(HistoryFilter(), cursor, hs.PAGE)
            if page.next is None:
                break
            cursor = page.next
        deep = cursor
        figures["deep_page_ms"] = hs.median_ms(lambda: history.page(HistoryFilter(), deep, hs.PAGE), reps)
        figures["count_ms"] = hs.median_ms(lambda: history.count(HistoryFilter()), reps)
        ninety = HistoryFilter(since=start, until=end)
        figures["per_day_by_source_ms"] = hs.median_ms(lambda: history.per_day_by_source(ninety, hs.TEAM_ZONE), reps)
        return figures
    finally:
        store.close()


async def notify_latencies(url: str, count: int) -> list[float]:
    """Milliseconds from each commit in one Store to another Store's feed reporting it."""
    from tests.factories import close, unassign_plan

    writer, watcher = Store.open(url), Store.open(url)
    feed = NotifyChangeFeed(watcher.db, fallback=60.0)
    try:
        await feed.begin()
        while not feed.listening:
            await asyncio.sleep(0.01)
        latencies = []
        for number in range(count):
            result = await writer.db.write(writer.plans.commit, unassign_plan(close(900_000 + number)))
            committed = time.perf_counter()
            change = await asyncio.wait_for(feed.next_change(), 10)
            assert change.closes == result.closes, (change, result)
            latencies.append((time.perf_counter() - committed) * 1000)
        return latencies
    finally:
        feed.close()
        writer.close()
        watcher.close()


def failover(url: str) -> float:
    """Seconds from kill -9 of the runner (`sync --forever`) to the other candidate holding the lease."""
    from tests.loopback import LoopbackFake, cli_env, start_cli
    from tests.pg import runner_pid

    fake = LoopbackFake(seed=46, contacts=50)
    processes = []
    try:
        with tempfile.TemporaryDirectory(prefix="closeout-bench-") as home:
            env = cli_env(Path(home), fake) | {"CLOSEOUT_DB_URL": url}
            sync = ("sync", "--forever", "--poll-seconds", "3600")
            first = start_cli(env, *sync)
            processes.append(first)
            deadline = time.monotonic() + 60
            while runner_pid(url) != first.pid:
                assert time.monotonic() < deadline, "the first candidate never became the runner"
                time.sleep(0.05)
            second = start_cli(env, *sync)
            processes.append(second)
            time.sleep(2)  # the second is up and watching
            os.kill(first.pid, signal.SIGKILL)
            first.wait()
            killed = time.monotonic()
            while runner_pid(url) != second.pid:
                assert time.monotonic() < killed + 60, "nobody took over"
                time.sleep(0.02)
            return time.monotonic() - killed
    finally:
        for process in processes:
            if process.poll() is None:
                process.send_signal(signal.SIGTERM)
                process.wait(timeout=30)
            for stream in (process.stdout, process.stderr):
                if stream is not None:
                    stream.close()
        fake.stop()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rows", type=int, default=1_000_000, help="history rows on each database")
    parser.add_argument("--reps", type=int, default=7, help="timed repetitions per query (median reported)")
    parser.add_argument("--notifies", type=int, default=200, help="commits timed for the notify latency")
    parser.add_argument("--seed", type=int, default=20240601)
    args = parser.parse_args()
    figures: dict[str, Any] = {"rows": args.rows}
    with tempfile.TemporaryDirectory(prefix="closeout-shared-bench-") as work, postgres() as pg_url:
        sqlite_url = f"sqlite:///{Path(work) / 'history.db'}"
        for prefix, url in (("sqlite", sqlite_url), ("pg", pg_url)):
            start, end = seed(url, args.rows, args.seed)
            for name, value in queries(url, start, end, args.reps).items():
                figures[f"{prefix}_{name}"] = value
            log(f"{prefix}: {json.dumps({k: v for k, v in figures.items() if k.startswith(prefix)})}")
        latencies = asyncio.run(notify_latencies(pg_url, args.notifies))
        figures["notify_latency_ms_median"] = round(statistics.median(latencies), 2)
        figures["notify_latency_ms_p99"] = round(statistics.quantiles(latencies, n=100)[98], 2)
        log(f"notify latency: median {figures['notify_latency_ms_median']} ms, p99 {figures['notify_latency_ms_p99']}")
        figures["failover_s"] = round(failover(pg_url), 2)
        log(f"failover: {figures['failover_s']} s")
    print(json.dumps(figures))


if __name__ == "__main__":
    main()
