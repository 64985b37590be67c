"""kill -9 in the middle of a drain loses nothing and sends no second unassign."""

from __future__ import annotations

import json
import os
import random
import signal
import time
from collections import Counter
from collections.abc import Callable
from pathlib import Path

import pytest

from tests.loopback import SECRET, LoopbackFake, cli_env, free_port, run_cli, start_cli, stop_cli

CLOSES = 200


def _pending(env: dict[str, str]) -> int:
    result = run_cli(env, "status", "--json")
    assert result.returncode == 0, result.stderr
    return int(json.loads(result.stdout)["outbox_depth"])


@pytest.mark.slow
def test_kill_9_during_a_drain_of_200_closes(launch: Callable[..., LoopbackFake], tmp_path: Path) -> None:
    port = free_port()
    fake = launch(seed=31, contacts=700, rate_limit=40, webhook_urls=[f"http://127.0.0.1:{port}/webhook"])
    env = cli_env(tmp_path / "home", fake) | {"CLOSEOUT_RATE_LIMIT": "40"}  # pace to the fake's limit
    assert run_cli(env, "use-template", "unassign-after-close", "--publish").returncode == 0
    sync_args = ("sync", "--forever", "--webhook-port", str(port), "--webhook-secret", SECRET, "--poll-seconds", "5")
    targets = fake.assigned_open(CLOSES)
    rng = random.Random(2026)

    sync = start_cli(env, *sync_args)
    assert sync.stderr is not None and "receiving webhooks" in sync.stderr.readline()
    for contact_id in targets:
        fake.close(contact_id)
    kills = 0
    try:
        for _ in range(5):
            time.sleep(rng.uniform(0.5, 2.0))  # a random moment in the drain
            os.kill(sync.pid, signal.SIGKILL)
            sync.wait()
            sync.stdout.close()  # type: ignore[union-attr]
            sync.stderr.close()
            kills += 1
            sync = start_cli(env, *sync_args)
            assert sync.stderr is not None and "receiving webhooks" in sync.stderr.readline()
        deadline = time.monotonic() + 240
        while time.monotonic() < deadline and any(fake.assignees(targets)):
            time.sleep(1)
    finally:
        code, _ = stop_cli(sync)
    assert code == 0
    assert kills == 5

    assert fake.assignees(targets) == [None] * CLOSES
    posts = fake.unassign_posts()
    doubled = {c: n for c, n in posts.items() if n > 1}
    assert doubled == {}
    assert all(posts[c] == 1 for c in targets)
    assert _pending(env) == 0
    # Each close is one queue row and one history row, though the poller ran through the burst and the kills.
    queue = run_cli(env, "queue", "--json", "--limit", "5000")
    assert queue.returncode == 0, queue.stderr
    rows = Counter(row["contact_id"] for row in json.loads(queue.stdout))
    assert {c: n for c, n in rows.items() if c in set(targets) and n != 1} == {}
    history = run_cli(env, "history", "--json", "--limit", "5000")
    assert history.returncode == 0, history.stderr
    changes = Counter(row["contact_id"] for row in json.loads(history.stdout))
    assert {c: n for c, n in changes.items() if c in set(targets) and n != 1} == {}
