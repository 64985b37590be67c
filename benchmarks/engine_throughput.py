"""Engine throughput: close events through intake → planner → storage commit, and webhook-to-unassign latency.

Default mode feeds N close events (100,000) through the real Intake with the unassign template published,
into a real SQLite file, and prints one JSON line:
- `events_per_s`: events planned and committed per second (Intake batches whatever has queued up);
- `raw_insert_rows_per_s`: the same rows (close, run, history row, outbox command, contact per event) written
  with plain `sqlite3.executemany` into an identical empty database, same batch size, same run;
- `ratio`: the pipeline's rows per second over the raw rows per second, i.e. how close to raw SQLite the
  whole pipeline (planning included) gets;
- `p99_commit_ms`: the 99th percentile of one batch's plan-and-commit time;
- `peak_rss_mb`.

`--e2e` starts the fake platform on loopback (unlimited rate) with its webhooks pointed at Closeout's
receiver, closes conversations at `--rate` per second through the fake's inbox endpoint, and measures from
each close request to the unassign POST the fake receives: `e2e_p50_ms`, `e2e_p99_ms`, and the CPU time the
measured process spent per close, `e2e_cpu_ms_per_close`. The fake and the
driver that closes conversations and reads the fake's log each run in a process of their own, so only the
sync service (webhook receiver, intake, planner, storage, drain) runs in the measured one.

`--processes 2` runs two `closeout-cli sync --forever` processes on one SQLite file against the fake on
loopback at `--rate-limit` (20) requests per second per endpoint. `--closes` conversations are closed on the
fake first (the seed workspace holds more closed-but-assigned contacts); the runner's start-up poll finds
them and the runner sends the unassigns. A third of the way through, the runner is killed with SIGKILL. It
prints `sent` (unassign POSTs the fake carried out), `doubled` (contacts unassigned more than once), `lost`
(contacts still assigned at the end), `ratio_to_limit` (unassign POSTs per second over the limit, over the
whole run, takeover included; `ratio_to_limit_while_sending` leaves the takeover out) and `lease_takeover_s`
(from the kill until the other process holds the runner lease), next to `lease_s`, the lease time used.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import random
import re
import resource
import shutil
import signal
import sqlite3
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from app.domain.conversations import ClosedBySource, ClosedConversation  # noqa: E402
from app.domain.history import HistoryFilter  # noqa: E402
from app.domain.people import Agent, Contact, Team  # noqa: E402
from app.engine.catalog import use_template  # noqa: E402
from app.engine.lifecycle import publish  # noqa: E402
from app.events import EventBus  # noqa: E402
from app.storage.store import Store  # noqa: E402
from app.sync.intake import Intake  # noqa: E402

CATEGORIES = ["Resolved", "Resolved", "Resolved", "Sales", "Spam", None]
SOURCES = [ClosedBySource.USER] * 6 + [ClosedBySource.AUTO_CLOSE] * 3 + [ClosedBySource.WORKFLOW]


def percentile(values: list[float], fraction: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(fraction * len(ordered)))]


def peak_rss_mb() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def make_events(n: int, agents: list[Agent], rng: random.Random) -> list[ClosedConversation]:
    start = int(time.time()) - n
    events = []
    for i in range(n):
        agent = agents[min(int(rng.paretovariate(1.2)) - 1, len(agents) - 1)]
        assignee = agent.ref if rng.random() > 0.05 else None
        contact = Contact(100_000 + i, "Contact", str(i), email=f"c{i}@example.com", assignee=assignee)
        source = rng.choice(SOURCES)
        events.append(
            ClosedConversation(
                event_id=f"bench-{i}",
                contact=contact,
                closed_time=start + i,
                closed_by_source=source,
                closed_by=assignee if source is ClosedBySource.USER else None,
                category=rng.choice(CATEGORIES),
                assignee_at_close=assignee,
                assignee_team=agent.team.name if agent.team else None,
            )
        )
    return events


async def run_pipeline(store: Store, events: list[ClosedConversation]) -> tuple[float, list[float]]:
    commit_times: list[float] = []
    original = store.plans.commit_many

    def timed(plans):  # type: ignore[no-untyped-def]
        started = time.perf_counter()
        try:
            return original(plans)
        finally:
            commit_times.append(time.perf_counter() - started)

    intake = Intake(store, EventBus().publish, lambda: None)
    await intake.load_workflows()
    store.plans.commit_many = timed  # type: ignore[method-assign]
    consumer = asyncio.create_task(intake.run())
    started = time.perf_counter()
    futures = [intake.submit_nowait(event) for event in events]
    await asyncio.gather(*futures)
    elapsed = time.perf_counter() - started
    consumer.cancel()
    await asyncio.gather(consumer, return_exceptions=True)
    return elapsed, commit_times


def raw_rows(db: Path, template: Path, events: list[ClosedConversation], batch: int) -> tuple[float, int]:
    """The pipeline's rows written with plain sqlite3: (seconds, rows)."""
    shutil.copy(template, db)
    con = sqlite3.connect(db, isolation_level=None)
    con.execute("PRAGMA journal_mode=WAL")
    con.execute("PRAGMA synchronous=NORMAL")
    now = time.time()
    rows = 0
    started = time.perf_counter()
    for offset in range(0, len(events), batch):
        chunk = events[offset : offset + batch]
        closes, runs, changes, outbox, contacts = [], [], [], [], []
        for i, e in enumerate(chunk, offset + 1):
            a = e.assignee_at_close
            c = e.contact
            closes.append(
                (
                    i,
                    e.event_id,
                    c.id,
                    c.first_name,
                    c.last_name,
                    c.phone,
                    c.email,
                    "[]",
                    e.closed_time,
                    e.closed_by_source.value,
                    a.id if a else None,
                    a.name if a else "",
                    e.category,
                    None,
                    a.id if a else None,
                    a.first_name if a else "",
                    a.last_name if a else "",
                    a.email if a else "",
                    e.assignee_team,
                    None,
                    None,
                    None,
                    now,
                    None,
                )
            )
            runs.append((i, f"1:{e.event_id}", 1, 1, c.id, i, now, "done", f"unassigned {a.name if a else ''}", 0))
            changes.append(
                (i, c.id, i, now, a.id if a else None, None, "workflow", "Unassign", "unassigned", "pending", 1, i)
            )
            outbox.append(
                (
                    i,
                    "unassign",
                    c.id,
                    '{"expected_assignee": 1}',
                    f"unassign:1:{e.event_id}",
                    "pending",
                    0,
                    0.0,
                    None,
                    now,
                    now,
                    i,
                    i,
                    None,
                    None,
                    0,
                )
            )
            contacts.append(
                (c.id, c.first_name, c.last_name, c.phone, c.email, None, "", "", "", "closed", "[]", 0, now, now)
            )
        con.execute("BEGIN")
        con.executemany(f"INSERT INTO closes VALUES ({','.join('?' * 24)})", closes)
        con.executemany(f"INSERT INTO runs VALUES ({','.join('?' * 10)})", runs)
        con.executemany(f"INSERT INTO changes VALUES ({','.join('?' * 12)})", changes)
        con.executemany(f"INSERT INTO outbox VALUES ({','.join('?' * 16)})", outbox)
        upsert = "ON CONFLICT (id) DO UPDATE SET status = excluded.status"
        con.executemany(f"INSERT INTO contacts VALUES ({','.join('?' * 14)}) {upsert}", contacts)
        con.execute("COMMIT")
        rows += len(closes) * 5
    elapsed = time.perf_counter() - started
    con.close()
    return elapsed, rows


def throughput(n: int) -> dict[str, float]:
    rng = random.Random(42)
    agents = [
        Agent(i, f"Agent{i}", "Lee", f"a{i}@example.com", team=Team(1 + i % 8, f"Team {i % 8}")) for i in range(1, 201)
    ]
    events = make_events(n, agents, rng)
    with tempfile.TemporaryDirectory() as tmp:
        folder = Path(tmp)
        template = folder / "empty.sqlite3"
        Store.open(f"sqlite:///{template}").close()
        shutil.copy(template, folder / "pipeline.sqlite3")
        store = Store.open(f"sqlite:///{folder / 'pipeline.sqlite3'}")
        store.cache.upsert_agents(agents)
        store.workflows.save(publish(use_template("unassign-after-close")))
        print(f"feeding {n} close events through intake", flush=True)
        elapsed, commits = asyncio.run(run_pipeline(store, events))
        written = store.history.count(HistoryFilter())
        store.close()
        rows_per_event = 5
        events_per_s = n / elapsed
        batch = max(1, round(n / max(1, len(commits))))
        print(f"raw sqlite3 baseline, batch {batch}", flush=True)
        raw_seconds, raw_count = raw_rows(folder / "raw.sqlite3", template, events, batch)
    raw_per_s = raw_count / raw_seconds
    return {
        "events": n,
        "history_rows": written,
        "events_per_s": round(events_per_s),
        "raw_insert_rows_per_s": round(raw_per_s),
        "raw_events_per_s": round(raw_per_s / rows_per_event),
        "ratio": round(events_per_s * rows_per_event / raw_per_s, 3),
        "batches": len(commits),
        "p99_commit_ms": round(percentile(commits, 0.99) * 1000, 1),
        "peak_rss_mb": round(peak_rss_mb(), 1),
    }


async def e2e(rate: float, seconds: float) -> dict[str, float]:

    from app.domain.secret import Secret
    from app.platform.client import PlatformClient
    from app.sync.service import SyncOptions, SyncService

    with tempfile.TemporaryDirectory() as tmp:
        store = Store.open(f"sqlite:///{Path(tmp) / 'e2e.sqlite3'}")
        store.workflows.save(publish(use_template("unassign-after-close")))
        bus = EventBus()
        secret = "bench-signing-key"
        # The receiver must listen before the fake starts sending, so pick its port first.
        probe = SyncService(
            store,
            PlatformClient("http://127.0.0.1:9/v2", Secret("x")),
            bus,
            SyncOptions(poll_seconds=3600, webhook_port=0, webhook_secret=secret),
        )
        await probe.start(poll=False, drain=False)
        receiver = probe.webhook_url
        await probe.stop()
        await probe.client.aclose()
        port = int(str(receiver).rsplit(":", 1)[1].split("/")[0])
        fake, api, token = start_fake(
            "--rate-limit", "0", "--contacts", "3000", "--webhook-url", str(receiver), "--webhook-secret", secret
        )
        client = PlatformClient(api, Secret(token), rate_limit=0)
        service = SyncService(
            store, client, bus, SyncOptions(poll_seconds=3600, webhook_port=port, webhook_secret=secret)
        )
        await service.start(poll=False)
        base = api.removesuffix("/v2")
        try:
            # The agents closing conversations, and the stopwatch reading the fake's request log, run in a
            # process of their own: in this one they would take turns with the sync service they measure.
            cpu_before = process_cpu_s()
            driver = await asyncio.create_subprocess_exec(
                sys.executable,
                __file__,
                "--e2e-driver",
                base,
                str(rate),
                str(seconds),
                cwd=ROOT,
                stdout=asyncio.subprocess.PIPE,
            )
            out, _ = await driver.communicate()
            cpu_s = process_cpu_s() - cpu_before
            latencies = json.loads(out.decode().strip().splitlines()[-1])
        finally:
            await service.stop()
            await client.aclose()
            fake.terminate()
            fake.wait(10)
            store.close()
    return {
        "e2e_rate_per_s": rate,
        "e2e_closes": len(latencies),
        "e2e_p50_ms": round(statistics.median(latencies), 1),
        "e2e_p99_ms": round(percentile(latencies, 0.99), 1),
        "e2e_cpu_ms_per_close": round(cpu_s * 1000 / max(1, len(latencies)), 2),
    }


def two_processes(closes: int, rate_limit: float, lease_s: float) -> dict[str, float]:
    """Two runners on one file: see the module's docstring."""
    import httpx

    with tempfile.TemporaryDirectory() as tmp:
        home = Path(tmp) / "home"
        fake, api, token = start_fake("--rate-limit", str(rate_limit), "--contacts", str(closes * 4), "--seed", "7")
        base = api.removesuffix("/v2")
        env = {k: v for k, v in os.environ.items() if not k.startswith("CLOSEOUT_")} | {
            "CLOSEOUT_HOME": str(home),
            "CLOSEOUT_API_URL": api,
            "CLOSEOUT_API_TOKEN": token,
            "CLOSEOUT_RATE_LIMIT": str(rate_limit),
            "CLOSEOUT_LEASE_SECONDS": str(lease_s),
        }
        cli = [sys.executable, "-m", "app.cli"]
        subprocess.run([*cli, "use-template", "unassign-after-close", "--publish"], cwd=ROOT, env=env, check=True)
        db = home / "data" / "closeout.sqlite3"
        runners: list[subprocess.Popen[bytes]] = []
        try:
            with httpx.Client(base_url=base, timeout=60) as http:
                state = http.get("/_fake/state").json()
                targets = [c["id"] for c in state["contacts"] if c.get("assignee") and c["status"] == "open"]
                targets = targets[:closes]
                already = {c["id"] for c in state["contacts"] if c.get("assignee") and c["status"] == "closed"}
                for contact_id in targets:
                    http.post(f"/_fake/contacts/{contact_id}/close", json={"source": "user"}).raise_for_status()
                sync = [*cli, "sync", "--forever", "--poll-seconds", "3600"]
                for _ in range(2):
                    runners.append(subprocess.Popen(sync, cwd=ROOT, env=env, stderr=subprocess.DEVNULL))
                posts: list[tuple[float, int]] = []
                seen = 0

                def read_posts() -> None:
                    nonlocal seen
                    page = http.get("/_fake/log", params={"since": seen, "limit": 100_000}).json()
                    for entry in page["items"]:
                        path = entry["path"]
                        body = entry["body"]
                        if (
                            entry["method"] == "POST"
                            and path.endswith("/conversation/assignee")
                            and entry["status"] == 200
                            and isinstance(body, dict)
                            and body.get("assignee", "x") is None
                        ):
                            posts.append((entry["time"], int(path.split("id:")[1].split("/")[0])))
                    seen = page["next"]

                wanted = set(targets) | already
                while len({c for _, c in posts} & set(targets)) < len(targets) // 3:
                    time.sleep(0.2)
                    read_posts()
                victim = _runner_pid(db)
                os.kill(victim, signal.SIGKILL)
                killed_at = time.time()
                next(r for r in runners if r.pid == victim).wait()
                while (holder := _runner_pid(db)) in (None, victim):
                    time.sleep(0.05)
                takeover = time.time() - killed_at
                deadline = time.time() + closes / rate_limit * 3 + 60
                while len({c for _, c in posts} & wanted) < len(wanted) and time.time() < deadline:
                    time.sleep(0.5)
                    read_posts()
                time.sleep(2)  # anything sent twice would show up now
                read_posts()
                final = {c["id"]: c.get("assignee") for c in http.get("/_fake/state").json()["contacts"]}
        finally:
            for runner in runners:
                if runner.poll() is None:
                    runner.send_signal(signal.SIGTERM)
                    runner.wait(30)
            fake.terminate()
            fake.wait(10)
    counts: dict[int, int] = {}
    for _, contact_id in posts:
        counts[contact_id] = counts.get(contact_id, 0) + 1
    times = sorted(t for t, _ in posts)
    span = times[-1] - times[0]
    before = [t for t in times if t <= killed_at]
    after = [t for t in times if t > killed_at + takeover]
    sending = (before[-1] - before[0] if len(before) > 1 else 0) + (after[-1] - after[0] if len(after) > 1 else 0)
    return {
        "processes": 2,
        "rate_limit": rate_limit,
        "closes": len(wanted),
        "sent": len(posts),
        "doubled": sum(1 for n in counts.values() if n > 1),
        "lost": sum(1 for c in wanted if final.get(c) is not None),
        "ratio_to_limit": round((len(posts) - 1) / span / rate_limit, 3) if span else 0.0,
        "ratio_to_limit_while_sending": round((len(before) + len(after) - 2) / sending / rate_limit, 3)
        if sending
        else 0.0,
        "lease_s": lease_s,
        "lease_takeover_s": round(takeover, 2),
        "new_runner_pid_differs": holder != victim,
    }


def _runner_pid(db: Path) -> int | None:
    """The pid holding a live runner lease in the database file, if any."""
    try:
        with sqlite3.connect(db, timeout=5) as connection:
            row = connection.execute("SELECT pid, until FROM leases WHERE name = 'runner'").fetchone()
    except sqlite3.OperationalError:
        return None
    return None if row is None or row[1] < time.time() else int(row[0])


def start_fake(*options: str) -> tuple[subprocess.Popen[str], str, str]:
    """`closeout-cli fake-platform --port 0 OPTIONS` in a process of its own; returns it, its API URL and token."""
    fake = subprocess.Popen(
        [sys.executable, "-m", "app.cli", "fake-platform", "--port", "0", *options],
        cwd=ROOT,
        stdout=subprocess.PIPE,
        text=True,
    )
    assert fake.stdout is not None
    line = fake.stdout.readline()
    match = re.search(r"on (\S+) token=(\S+)", line)
    assert match, line
    return fake, match.group(1), match.group(2)


def process_cpu_s() -> float:
    """CPU seconds this process (all its threads) has used: the sync service's cost, whatever the machine's speed."""
    usage = resource.getrusage(resource.RUSAGE_SELF)
    return usage.ru_utime + usage.ru_stime


async def drive(base: str, rate: float, seconds: float) -> list[float]:
    """Close conversations at `rate` through the fake's inbox; return each close's time to its unassign POST."""
    import httpx

    async with httpx.AsyncClient(base_url=base, timeout=30) as http:
        state = (await http.get("/_fake/state")).json()
        candidates = [c["id"] for c in state["contacts"] if c.get("assignee") and c.get("status") == "open"]
        sent: dict[int, float] = {}
        interval = 1 / rate
        next_at = time.perf_counter()
        for contact_id in candidates[: int(rate * seconds)]:
            await asyncio.sleep(max(0.0, next_at - time.perf_counter()))
            next_at += interval
            sent[contact_id] = time.time()
            await http.post(f"/_fake/contacts/{contact_id}/close", json={"source": "user", "category": "Resolved"})
        deadline = time.time() + 30
        seen: dict[int, float] = {}
        index = 0
        while len(seen) < len(sent) and time.time() < deadline:
            page = (await http.get("/_fake/log", params={"since": index})).json()
            for entry in page["items"]:
                path = entry["path"]
                if entry["method"] == "POST" and path.endswith("/conversation/assignee") and entry["status"] == 200:
                    contact_id = int(path.split("id:")[1].split("/")[0])
                    seen.setdefault(contact_id, entry["time"])
            index = page["next"]
            await asyncio.sleep(0.2)
    return [(seen[c] - sent[c]) * 1000 for c in sent if c in seen]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--events", type=int, default=100_000)
    parser.add_argument("--e2e", action="store_true", help="measure webhook → unassign latency instead")
    parser.add_argument("--rate", type=float, default=50.0, help="closes per second in --e2e mode")
    parser.add_argument("--seconds", type=float, default=20.0, help="how long to close conversations in --e2e mode")
    parser.add_argument("--processes", type=int, choices=(1, 2), default=1, help="2: two runners on one file")
    parser.add_argument("--rate-limit", type=float, default=20.0, help="the fake's limit in --processes 2 mode")
    parser.add_argument("--closes", type=int, default=600, help="conversations closed in --processes 2 mode")
    parser.add_argument("--lease-seconds", type=float, default=15.0, help="the runner lease in --processes 2 mode")
    parser.add_argument("--e2e-driver", nargs=3, metavar=("BASE", "RATE", "SECONDS"), help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.e2e_driver:  # the child process --e2e starts
        base, rate, seconds = args.e2e_driver
        print(json.dumps(asyncio.run(drive(base, float(rate), float(seconds)))))
        return
    os.environ.setdefault("CLOSEOUT_HOME", tempfile.mkdtemp(prefix="closeout-bench-"))
    if args.processes == 2:
        result: dict[str, float] = two_processes(args.closes, args.rate_limit, args.lease_seconds)
    else:
        result = asyncio.run(e2e(args.rate, args.seconds)) if args.e2e else throughput(args.events)
    print(json.dumps(result))


if __name__ == "__main__":
    main()
