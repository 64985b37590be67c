"""What the change feed costs a process that watches a quiet database.

A watching process polls `PRAGMA data_version` every 0.5 s. This runs the feed on a real SQLite file for
`--seconds` (30) while a second Store on the file renews the runner lease every `--writer-every` seconds (5, as
a runner does: each renewal is a commit the feed must read), then the same loop for the same time without the
feed, in the same process, and prints one JSON line:
- `cpu_pct_with_feed`, `cpu_pct_without_feed`: process CPU time over wall time, in per cent of one core;
- `cpu_pct_of_feed`: the difference, what the feed itself costs;
- `checks`, `reads`: how often the feed looked, and how often it found a commit and read what changed;
- `cpu_us_per_check`: the feed's CPU time per look, reads included.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import sys
import tempfile
import time
from pathlib import Path

from app.storage.change_feed import PollingChangeFeed
from app.storage.leases import RUNNER
from app.storage.store import Store


async def _renew(other: Store, every: float) -> None:
    while True:
        await other.db.write(other.leases.acquire, RUNNER, 15.0)
        await asyncio.sleep(every)


async def _follow(feed: PollingChangeFeed) -> None:
    while True:
        await feed.next_change()


async def _measure(store: Store, other: Store, seconds: float, every: float, with_feed: bool) -> tuple[float, int, int]:
    feed = PollingChangeFeed(store.db)
    tasks = [asyncio.create_task(_renew(other, every))]
    if with_feed:
        tasks.append(asyncio.create_task(_follow(feed)))
    wall, cpu = time.monotonic(), time.process_time()
    await asyncio.sleep(seconds)
    cpu, wall = time.process_time() - cpu, time.monotonic() - wall
    for task in tasks:
        task.cancel()
    for task in tasks:
        with contextlib.suppress(asyncio.CancelledError):
            await task
    feed.close()
    return 100.0 * cpu / wall, feed.checks, feed.reads


async def main(argv: list[str]) -> None:
    """Run the feed, then the same loop without it, and print the figures."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seconds", type=float, default=30.0)
    parser.add_argument("--writer-every", type=float, default=5.0)
    args = parser.parse_args(argv)
    with tempfile.TemporaryDirectory() as folder:
        url = f"sqlite:///{Path(folder) / 'closeout.sqlite3'}"
        store, other = Store.open(url), Store.open(url)
        try:
            with_feed, checks, reads = await _measure(store, other, args.seconds, args.writer_every, True)
            without, _, _ = await _measure(store, other, args.seconds, args.writer_every, False)
        finally:
            store.close()
            other.close()
    feed_cpu_s = max(0.0, with_feed - without) / 100.0 * args.seconds
    figures = {
        "seconds": args.seconds,
        "cpu_pct_with_feed": round(with_feed, 3),
        "cpu_pct_without_feed": round(without, 3),
        "cpu_pct_of_feed": round(with_feed - without, 3),
        "checks": checks,
        "reads": reads,
        "cpu_us_per_check": round(1e6 * feed_cpu_s / max(1, checks), 1),
    }
    print(json.dumps(figures))


if __name__ == "__main__":
    asyncio.run(main(sys.argv[1:]))
