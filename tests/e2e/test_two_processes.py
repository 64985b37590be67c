"""Two Closeout processes on one database file: every command goes out once, and a killed runner is replaced."""

from __future__ import annotations

import os
import signal
import time
from collections.abc import Callable
from pathlib import Path

import pytest

from tests.loopback import (
    SECRET,
    LoopbackFake,
    cli_env,
    free_port,
    run_cli,
    runner_pid,
    start_cli,
    stop_cli,
    wait_for,
)

LEASE = 3.0


@pytest.mark.slow
def test_two_processes_on_one_file_send_each_of_2000_commands_once(
    launch: Callable[..., LoopbackFake], tmp_path: Path
) -> None:
    total = 2000
    port = free_port()
    fake = launch(seed=41, contacts=6300, users=20, webhook_urls=[f"http://127.0.0.1:{port}/webhook"])
    env = cli_env(tmp_path / "home", fake) | {"CLOSEOUT_LEASE_SECONDS": str(LEASE), "CLOSEOUT_RATE_LIMIT": "1000"}
    assert run_cli(env, "use-template", "unassign-after-close", "--publish").returncode == 0
    targets = fake.assigned_open(total)
    sync = ("sync", "--forever", "--poll-seconds", "3600")
    receiving = start_cli(env, *sync, "--webhook-port", str(port), "--webhook-secret", SECRET)
    other = start_cli(env, *sync)
    processes = [receiving, other]
    try:
        assert receiving.stderr is not None and "receiving webhooks" in receiving.stderr.readline()
        for contact_id in targets:
            fake.close(contact_id)
        wait_for(lambda: not any(fake.assignees(targets)), 60, "every contact to be unassigned", every=2)
    finally:
        results = [stop_cli(p) for p in processes]
    assert [code for code, _ in results] == [0, 0], [err[-2000:] for _, err in results]
    posts = fake.unassign_posts()
    assert {c: n for c, n in posts.items() if n != 1} == {}
    assert all(posts[c] == 1 for c in targets)


@pytest.mark.slow
def test_commands_queued_by_a_process_that_is_not_the_runner_are_sent_by_the_runner(
    launch: Callable[..., LoopbackFake], tmp_path: Path
) -> None:
    closes = 60
    port = free_port()
    fake = launch(seed=44, contacts=300, webhook_urls=[f"http://127.0.0.1:{port}/webhook"])
    home = tmp_path / "home"
    env = cli_env(home, fake) | {"CLOSEOUT_LEASE_SECONDS": str(LEASE), "CLOSEOUT_RATE_LIMIT": "1000"}
    assert run_cli(env, "use-template", "unassign-after-close", "--publish").returncode == 0
    db = home / "data" / "closeout.sqlite3"
    targets = fake.assigned_open(closes)
    runner = start_cli(env, "sync", "--forever", "--poll-seconds", "3600")
    wait_for(lambda: runner_pid(db) == runner.pid, 30, "the first process to take the runner lease")
    receiver = start_cli(
        env, "sync", "--forever", "--poll-seconds", "3600", "--webhook-port", str(port), "--webhook-secret", SECRET
    )
    try:
        assert receiver.stderr is not None and "receiving webhooks" in receiver.stderr.readline()
        # The runner has nothing to send yet: what wakes it is only what the receiver commits to the file.
        for contact_id in targets:
            fake.close(contact_id)
        wait_for(lambda: not any(fake.assignees(targets)), 30, "every contact to be unassigned")
    finally:
        results = [stop_cli(runner), stop_cli(receiver)]
    assert [code for code, _ in results] == [0, 0], [err[-2000:] for _, err in results]
    assert runner_pid(db) is None  # released on a clean stop
    posts = fake.unassign_posts()
    assert all(posts[c] == 1 for c in targets)


@pytest.mark.slow
def test_a_runner_killed_mid_drain_is_replaced_after_its_lease_and_nothing_goes_out_twice(
    launch: Callable[..., LoopbackFake], tmp_path: Path
) -> None:
    closes = 150
    port = free_port()
    fake = launch(seed=43, contacts=400, rate_limit=20, webhook_urls=[f"http://127.0.0.1:{port}/webhook"])
    home = tmp_path / "home"
    env = cli_env(home, fake) | {"CLOSEOUT_LEASE_SECONDS": str(LEASE), "CLOSEOUT_RATE_LIMIT": "20"}
    assert run_cli(env, "use-template", "unassign-after-close", "--publish").returncode == 0
    db = home / "data" / "closeout.sqlite3"
    targets = fake.assigned_open(closes)

    runner = start_cli(env, "sync", "--forever", "--poll-seconds", "3600")
    wait_for(lambda: runner_pid(db) == runner.pid, 30, "the first process to take the runner lease")
    watcher = start_cli(env, "sync", "--forever", "--poll-seconds", "3600", "--webhook-port", str(port))
    try:
        assert watcher.stderr is not None and "receiving webhooks" in watcher.stderr.readline()
        for contact_id in targets:
            fake.close(contact_id)
        wait_for(lambda: sum(fake.unassign_posts().values()) >= 20, 60, "the runner to be mid-drain")
        os.kill(runner.pid, signal.SIGKILL)
        runner.wait()
        killed_at = time.monotonic()
        wait_for(lambda: runner_pid(db) == watcher.pid, 2 * LEASE, "the other process to take over")
        takeover = time.monotonic() - killed_at
        wait_for(lambda: not any(fake.assignees(targets)), 90, "every contact to be unassigned")
    finally:
        stop_cli(runner)
        code, err = stop_cli(watcher)
    assert code == 0, err[-2000:]
    assert takeover < 2 * LEASE
    posts = fake.unassign_posts()
    assert {c: n for c, n in posts.items() if n != 1} == {}
    assert all(posts[c] == 1 for c in targets)
