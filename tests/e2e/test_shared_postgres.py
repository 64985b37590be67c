"""Shared mode as a team runs it: real `sync --forever` candidates and viewers on one PostgreSQL, the fake on loopback.

Two candidates each receive every webhook (the fake delivers to both, as two receivers behind one proxy
would), one of them sends; mid-drain the one sending is killed with SIGKILL and the other takes over. The
platform's log then shows every contact unassigned exactly once and never a request over its rate limit.
"""

from __future__ import annotations

import json
import os
import signal
import time
from collections.abc import Callable
from pathlib import Path

import pytest
from sqlalchemy import create_engine, text

from tests.e2e.test_runner_handover import SYNC, Lines, _stop, _wait
from tests.loopback import SECRET, LoopbackFake, cli_env, free_port, run_cli, start_cli
from tests.pg import Cluster, PgServer, runner_pid

CLOSES = 500
RATE = 50

pytestmark = [pytest.mark.postgres, pytest.mark.slow]


def _history_per_contact(url: str, contacts: list[int]) -> dict[int, int]:
    engine = create_engine(url)
    try:
        with engine.connect() as connection:
            rows = connection.execute(
                text("SELECT contact_id, count(*) FROM changes WHERE contact_id = ANY(:ids) GROUP BY contact_id"),
                {"ids": contacts},
            )
            return {int(contact): int(count) for contact, count in rows}
    finally:
        engine.dispose()


def _queue(env: dict[str, str]) -> list[dict[str, object]]:
    result = run_cli(env, "queue", "--json", "--limit", str(CLOSES * 4))
    assert result.returncode == 0, result.stderr
    rows: list[dict[str, object]] = json.loads(result.stdout)
    return rows


def test_two_candidates_and_two_viewers_on_one_postgresql_lose_nothing_and_double_nothing_through_a_kill(
    launch: Callable[..., LoopbackFake], tmp_path: Path, pg_server: PgServer
) -> None:
    url = pg_server.new_database()
    ports = [free_port(), free_port()]
    fake = launch(
        seed=47,
        contacts=CLOSES * 3,
        rate_limit=RATE,
        webhook_urls=[f"http://127.0.0.1:{port}/webhook" for port in ports],
    )
    envs = [
        cli_env(tmp_path / f"home-{n}", fake) | {"CLOSEOUT_DB_URL": url, "CLOSEOUT_RATE_LIMIT": str(RATE)}
        for n in range(4)
    ]
    assert run_cli(envs[0], "use-template", "unassign-after-close", "--publish").returncode == 0
    targets = fake.assigned_open(CLOSES)

    candidates = [
        start_cli(env, *SYNC, "--webhook-port", str(port), "--webhook-secret", SECRET)
        for env, port in zip(envs[:2], ports, strict=True)
    ]
    says = [Lines(process) for process in candidates]
    try:
        for lines in says:
            lines.wait_for("receiving webhooks at")
        _wait(lambda: runner_pid(url) in {p.pid for p in candidates}, 30, "one candidate to become the runner")
        for contact_id in targets:
            fake.close(contact_id)
        _wait(lambda: sum(fake.unassign_posts().values()) >= CLOSES // 3, 60, "the runner to be mid-drain", every=0.5)

        runner = next(p for p in candidates if p.pid == runner_pid(url))
        other = next(p for p in candidates if p is not runner)
        os.kill(runner.pid, signal.SIGKILL)
        runner.wait()
        killed_at = time.monotonic()
        _wait(lambda: runner_pid(url) == other.pid, 10, "the other candidate to take over", every=0.05)
        took_over_in = time.monotonic() - killed_at
        _wait(lambda: not any(fake.assignees(targets)), 90, "every contact to be unassigned", every=1)
    finally:
        codes = [_stop(process) for process in candidates]
    # The two viewers, each with a home of its own, read the queue from the shared database as the runner's home
    # does (after the runner stopped: a settle or a late echo between two reads would make them differ).
    runner_queue = _queue(envs[1])
    viewer_queues = [_queue(envs[2]), _queue(envs[3])]

    assert codes[candidates.index(other)] == 0, says[candidates.index(other)].lines
    assert took_over_in < 10
    posts = fake.unassign_posts()
    assert {c: n for c, n in posts.items() if n != 1} == {}, "a contact was unassigned twice"
    assert all(posts[c] == 1 for c in targets), "a contact was never unassigned"
    assert _history_per_contact(url, targets) == dict.fromkeys(targets, 1)
    # The queue holds each close once: the 500, and those the runners' first poll found closed but assigned.
    queued = [row["contact_id"] for row in runner_queue]
    assert len(queued) == len(set(queued))
    assert set(targets) <= set(queued)
    assert viewer_queues == [runner_queue, runner_queue]
    assert not [e for e in fake.log() if e["status"] == 429], "the platform's rate limit was exceeded"


def test_a_runner_whose_database_goes_away_says_so_and_exits_and_the_next_one_runs_once_it_is_back(
    launch: Callable[..., LoopbackFake], tmp_path: Path, own_cluster: Cluster
) -> None:
    admin = own_cluster.admin
    server = PgServer(admin)
    server.execute('CREATE DATABASE "closeout"')
    server.close()
    url = admin.set(database="closeout").render_as_string(hide_password=False)
    fake = launch(seed=48, contacts=40)
    env = cli_env(tmp_path / "home", fake) | {"CLOSEOUT_DB_URL": url}
    runner = start_cli(env, *SYNC)
    says = Lines(runner)
    try:
        says.wait_for("started as the runner")
        own_cluster.stop("fast")
        runner.wait(timeout=30)  # a fatal error: the service manager starts it again
        assert runner.returncode != 0
        assert any("cannot be reached" in line for line in says.lines), says.lines
        assert not any(line.startswith("Traceback") for line in says.lines), says.lines
        # Started again while the database is still away: it says so in one line and exits.
        early = run_cli(env, *SYNC, timeout=60)
        assert early.returncode != 0
        assert "cannot be reached" in early.stderr
        own_cluster.start()
        again = start_cli(env, *SYNC)
        again_says = Lines(again)
        again_says.wait_for("started as the runner")
        assert runner_pid(url) == again.pid
        assert _stop(again) == 0, again_says.lines
    finally:
        _stop(runner)
