"""A Closeout that only watches sees, within a second or two, the closes and unassigns another process commits."""

from __future__ import annotations

import asyncio
import sqlite3
import time
from collections.abc import Callable
from pathlib import Path

import pytest

from app.bootstrap import QueueRow, Supervisor
from app.domain.secret import Secret
from app.events import ChangeSet
from tests import inside
from tests.helpers import wait_until
from tests.loopback import SECRET, LoopbackFake, cli_env, free_port, run_cli, runner_pid, start_cli, stop_cli, wait_for


class QueueMirror:
    """What a live queue keeps: the rows of every close a change-set names, fetched again on each change-set."""

    def __init__(self, supervisor: Supervisor) -> None:
        self.supervisor = supervisor
        self.rows: dict[int, QueueRow] = {}
        self.first_seen: dict[int, float] = {}
        self._fetches: set[asyncio.Task[None]] = set()
        supervisor.bus.subscribe(self.changed)

    def changed(self, change: ChangeSet) -> None:
        if change.closes:
            task = asyncio.ensure_future(self._fetch(change.closes))
            self._fetches.add(task)
            task.add_done_callback(self._fetches.discard)

    async def _fetch(self, ids: tuple[int, ...]) -> None:
        for row in await self.supervisor.queue_service.queue_rows(ids):
            assert row.close.id is not None
            self.rows[row.close.id] = row
            self.first_seen.setdefault(row.close.id, time.time())

    def status_of(self, contact_id: int) -> str | None:
        found = [row.status for row in self.rows.values() if row.close.contact.id == contact_id]
        return found[-1] if found else None


def _recorded(db: Path) -> dict[int, tuple[int, float]]:
    """Each recorded close by contact: (close id, when it was recorded), as any SQLite tool reads the file."""
    with sqlite3.connect(db, timeout=5) as connection:
        rows = connection.execute("SELECT contact_id, id, recorded_at FROM closes").fetchall()
    return {int(contact): (int(close_id), float(at)) for contact, close_id, at in rows}


@pytest.mark.slow
async def test_a_watching_supervisor_sees_each_close_the_runner_process_commits_within_two_seconds(
    launch: Callable[..., LoopbackFake], tmp_path: Path
) -> None:
    port = free_port()
    fake = launch(seed=45, contacts=120, webhook_urls=[f"http://127.0.0.1:{port}/webhook"])
    home = tmp_path / "home"
    env = cli_env(home, fake)
    assert run_cli(env, "use-template", "unassign-after-close", "--publish").returncode == 0
    db = home / "data" / "closeout.sqlite3"
    runner = start_cli(
        env, "sync", "--forever", "--poll-seconds", "3600", "--webhook-port", str(port), "--webhook-secret", SECRET
    )
    watcher: Supervisor | None = None
    try:
        assert runner.stderr is not None and "receiving webhooks" in runner.stderr.readline()
        wait_for(lambda: runner_pid(db) == runner.pid, 30, "the CLI to take the runner lease")
        watcher = await Supervisor.open(
            demo=False, token=Secret(fake.token), api_url=fake.url, db_url=f"sqlite:///{db}", poll_seconds=3600.0
        )
        await watcher.start()
        mirror = QueueMirror(watcher)
        await wait_until(lambda: watcher is not None and inside.sync(watcher).runner is not None, timeout=10)

        targets = fake.assigned_open(8)
        for contact_id in targets:
            fake.close(contact_id)

        await wait_until(lambda: set(_recorded(db)) >= set(targets), timeout=20)
        await wait_until(lambda: all(mirror.status_of(c) == "unassigned" for c in targets), timeout=20)
    finally:
        if watcher is not None:
            await watcher.close()
        code, err = stop_cli(runner)
    assert code == 0, err[-2000:]
    assert not inside.sync(watcher).is_runner  # it only watched: what it shows came from the other process's commits
    recorded = _recorded(db)
    lags = [mirror.first_seen[recorded[c][0]] - recorded[c][1] for c in targets]
    print(f"watcher lag behind the runner's commits: max {max(lags):.2f} s")  # noqa: T201
    assert max(lags) < 2.0, lags
    assert {c: n for c, n in fake.unassign_posts().items() if c in targets} == dict.fromkeys(targets, 1)
