"""The headless runner as a lead runs it: real `sync --forever` processes on one database file, a fake on loopback."""

from __future__ import annotations

import json
import os
import signal
import socket
import sqlite3
import subprocess
import threading
import time
from collections.abc import Callable
from pathlib import Path

import pytest

from tests.loopback import SECRET, LoopbackFake, cli_env, free_port, login, run_cli, runner_pid, start_cli, wait_for

SYNC = ("sync", "--forever", "--poll-seconds", "3600")


class Lines:
    """A process's stderr, read line by line on a thread so that a test can wait for a line without blocking."""

    def __init__(self, process: subprocess.Popen[str]) -> None:
        assert process.stderr is not None
        self.lines: list[str] = []
        self._stream = process.stderr
        self._thread = threading.Thread(target=self._read, daemon=True)
        self._thread.start()

    def _read(self) -> None:
        try:
            for line in self._stream:
                self.lines.append(line.rstrip("\n"))
        except ValueError:  # closed by `_stop` once the process ended
            return

    def wait_for(self, start: str, timeout: float = 30) -> str:
        """The first line beginning with `start`, once it has come."""
        deadline = time.monotonic() + timeout
        while True:
            found = [line for line in self.lines if line.startswith(start)]
            if found:
                return found[0]
            assert time.monotonic() < deadline, f"no line {start!r} in {self.lines}"
            time.sleep(0.05)


def _stop(process: subprocess.Popen[str]) -> int:
    if process.poll() is None:
        process.send_signal(signal.SIGTERM)
    try:
        process.wait(timeout=30)
    except subprocess.TimeoutExpired:
        process.kill()
        process.wait()
    for stream in (process.stdout, process.stderr):
        if stream is not None:
            stream.close()
    return process.returncode


@pytest.mark.slow
def test_a_runner_asked_to_hand_over_mid_drain_does_so_and_every_command_goes_out_once(
    launch: Callable[..., LoopbackFake], tmp_path: Path
) -> None:
    closes = 150
    port = free_port()
    fake = launch(seed=45, contacts=400, rate_limit=20, webhook_urls=[f"http://127.0.0.1:{port}/webhook"])
    home = tmp_path / "home"
    env = cli_env(home, fake) | {"CLOSEOUT_RATE_LIMIT": "20"}
    assert run_cli(env, "use-template", "unassign-after-close", "--publish").returncode == 0
    db = home / "data" / "closeout.sqlite3"
    targets = fake.assigned_open(closes)

    first = start_cli(env, *SYNC, "--webhook-port", str(port), "--webhook-secret", SECRET)
    first_says = Lines(first)
    second: subprocess.Popen[str] | None = None
    try:
        first_says.wait_for("receiving webhooks at")
        first_says.wait_for(f"started as the runner: this process sends and polls (pid {first.pid})")
        for contact_id in targets:
            fake.close(contact_id)
        wait_for(lambda: sum(fake.unassign_posts().values()) >= 20, 60, "the runner to be mid-drain", every=0.5)
        second = start_cli(env, *SYNC, "--take-over")
        second_says = Lines(second)
        asked_at = time.monotonic()
        second_says.wait_for("asked the runner to hand over to this process")
        wait_for(lambda: runner_pid(db) == second.pid, 20, "the hand-over")
        handed_over_in = time.monotonic() - asked_at
        assert first_says.wait_for("handed over:") == f"handed over: the runner is pid {second.pid} on this computer"
        second_says.wait_for(f"took over as the runner: this process sends and polls (pid {second.pid})")
        sent = fake.unassign_posts()
        assert sum(sent[c] for c in targets) < closes, "the hand-over came after the drain had finished"
        wait_for(lambda: not any(fake.assignees(targets)), 90, "every contact to be unassigned", every=1)
    finally:
        codes = [_stop(first)] + ([_stop(second)] if second is not None else [])
    assert codes == [0, 0], (first_says.lines, second_says.lines)
    assert handed_over_in < 15
    # The first process said nothing about losing the lease: it gave it, rather than having it taken.
    assert not [line for line in first_says.lines if "took the runner lease" in line], first_says.lines
    posts = fake.unassign_posts()
    assert {c: n for c, n in posts.items() if n != 1} == {}
    assert all(posts[c] == 1 for c in targets)


@pytest.mark.slow
def test_a_killed_runner_is_replaced_within_10_s_on_the_default_lease(
    launch: Callable[..., LoopbackFake], tmp_path: Path
) -> None:
    fake = launch(seed=46, contacts=50)
    home = tmp_path / "home"
    env = cli_env(home, fake)
    db = home / "data" / "closeout.sqlite3"
    runner = start_cli(env, *SYNC)
    Lines(runner).wait_for("started as the runner")
    other = start_cli(env, *SYNC)
    other_says = Lines(other)
    try:
        other_says.wait_for(f"watching: the runner is pid {runner.pid} on this computer")
        os.kill(runner.pid, signal.SIGKILL)
        runner.wait()
        killed_at = time.monotonic()
        wait_for(lambda: runner_pid(db) == other.pid, 10, "the other process to take over")
        took = time.monotonic() - killed_at
        other_says.wait_for("took over as the runner")
    finally:
        _stop(runner)
        code = _stop(other)
    assert code == 0, other_says.lines
    assert took < 10


@pytest.mark.slow
def test_a_runner_on_another_computer_that_stops_renewing_is_replaced_within_10_s(
    fake: LoopbackFake, tmp_path: Path
) -> None:
    home = tmp_path / "home"
    env = cli_env(home, fake)
    assert run_cli(env, "status").returncode == 0  # creates the database
    db = home / "data" / "closeout.sqlite3"
    # A runner on lead-2's desktop renewed its lease (the default 6 s) just now, and then its computer went away:
    # nothing on this computer can see that process, so only the lease running out hands the role on.
    renewed = time.time()
    with sqlite3.connect(db) as connection:
        connection.execute(
            "INSERT INTO leases (name, owner, pid, host, until, since) VALUES ('runner', ?, 4242, ?, ?, ?)",
            ("lead-2s-desktop/4242/0a1b2c3d", "lead-2s-desktop", renewed + 6.0, renewed - 60),
        )
        connection.execute("INSERT INTO meta (key, value) VALUES ('lease_renewed:runner', ?)", (repr(renewed),))
    watcher = start_cli(env, *SYNC)
    says = Lines(watcher)
    try:
        assert says.wait_for("watching:") == "watching: the runner is pid 4242 on lead-2s-desktop"
        says.wait_for("took over as the runner", timeout=15)
        took = time.time() - renewed
        assert runner_pid(db) == watcher.pid
    finally:
        code = _stop(watcher)
    assert code == 0, says.lines
    assert 6.0 <= took < 10, took


def test_sighup_makes_the_running_runner_use_the_newly_stored_token(fake: LoopbackFake, tmp_path: Path) -> None:
    env = cli_env(tmp_path / "home", fake)
    del env["CLOSEOUT_API_TOKEN"]  # the stored token, as after `closeout-cli login`
    login(env, fake.token)
    sync = start_cli(env, *SYNC)
    says = Lines(sync)
    try:
        says.wait_for("started as the runner")
        deadline = time.monotonic() + 30
        while "sending_state  Online" not in run_cli(env, "status").stdout:
            assert time.monotonic() < deadline, "the runner never got online"
            time.sleep(0.2)
        runner = json.loads(run_cli(env, "status", "--json").stdout)["runner"]
        assert (runner["host"], runner["pid"], runner["this_process"]) == (socket.gethostname(), sync.pid, False)
        assert f"(pid {sync.pid}), renewed " in run_cli(env, "status").stdout
        login(env, "a-token-the-platform-does-not-know")
        time.sleep(0.5)  # a running runner does not look at the stored token by itself while it is accepted
        assert not [line for line in says.lines if "token" in line], says.lines
        seen = len(fake.log())
        sync.send_signal(signal.SIGHUP)
        assert says.wait_for("SIGHUP:") == "SIGHUP: read the token again; using the new one"
        assert says.wait_for("the platform rejected the token").startswith(
            "the platform rejected the token (The platform answered 401: UN_AUTHORIZED)"
        )
        # The platform saw the new token: the last requests it answered, once the runner said so, were refused
        # (requests sent with the old token just before the reload may still be answered 200 after a 401).
        statuses = [entry["status"] for entry in fake.log()[seen:]]
        assert 401 in statuses and statuses[-1] == 401, statuses
        login(env, fake.token)
        sync.send_signal(signal.SIGHUP)
        says.wait_for("back online")
        assert sync.poll() is None  # SIGHUP reloads; it does not stop the runner
    finally:
        code = _stop(sync)
    assert code == 0, says.lines
    assert says.lines[0].startswith("started as the runner")


def test_take_over_goes_with_forever_only(tmp_path: Path) -> None:
    result = run_cli(cli_env(tmp_path / "home", None), "sync", "--once", "--take-over")
    assert result.returncode == 2
    assert result.stderr.strip().splitlines() == [
        "closeout-cli: --take-over goes with --forever: a runner that stops soon would hand the role back"
    ]
