"""How fast the platform client drains unassigns through its pacing, against the fake served as a real process.

For each rate R (`--rate 5 --rate 20` or `--rate 5,20,100`; default 5,20,100) the script starts
`closeout-cli fake-platform --port 0 --rate-limit R`, sends N unassigns through `PlatformClient(rate_limit=R)`
with several in flight, and prints one JSON line for the run:

- `rate_limit`, `requests` (N; `--requests`, default R x `--seconds`, so each run lasts about 10 s);
- `achieved_per_s`: successful requests per second as the fake received them: the slope of a least-squares
  line through their arrival times, so one slow first request (a new connection) does not skew the figure;
  `span_per_s` is the plain (n - 1) / (last - first) for comparison;
- `ratio_to_limit`: achieved / R (target >= 0.95) and `n_429`: 429s the fake answered (target <= 1 % of N);
- `p50_ms`, `p99_ms`: the HTTP round trip of each attempt, read from the client's own debug log line, so the
  time a request waits for its pacing slot is not counted as latency.

Then the ceiling: the fake with `--rate-limit 0` and the client unpaced, `--unlimited-requests` unassigns at each
`--concurrency` (default 2,4), one line each; `unlimited_fake_per_s` is the best (target >= 1500 on 2 cores).
`fake_alone_per_s` is the same fake driven by a minimal raw-socket HTTP/1.1 client, to show how much of the
ceiling is the fake and how much is the client (httpx).

The last line is one JSON object: the keys above at the top level taken from the R=20 run (or the first rate
given if 20 is not among them), plus `runs` (every paced run), `unlimited` (every ceiling run) and `targets`.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import logging
import os
import statistics
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import httpx

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from app.domain.secret import Secret  # noqa: E402
from app.platform.client import PlatformClient  # noqa: E402

TOKEN = "bench-token"


class RoundTrips(logging.Handler):
    """Collects the per-attempt round trip the client logs at debug level: `METHOD PATH -> STATUS in MS ms`."""

    def __init__(self) -> None:
        super().__init__(logging.DEBUG)
        self.ms: list[float] = []

    def emit(self, record: logging.LogRecord) -> None:
        if record.msg.startswith("%s %s -> %d in") and isinstance(record.args, tuple):
            self.ms.append(float(record.args[3]))


class Fake:
    """`closeout-cli fake-platform` as a subprocess."""

    def __init__(self, rate_limit: float, contacts: int) -> None:
        command = [
            sys.executable, "-m", "app.cli", "fake-platform", "--port", "0", "--token", TOKEN,
            "--rate-limit", str(rate_limit), "--contacts", str(contacts),
        ]  # fmt: skip
        self.process = subprocess.Popen(command, cwd=ROOT, stdout=subprocess.PIPE, text=True)
        assert self.process.stdout is not None
        line = self.process.stdout.readline()
        if not line.startswith("fake platform on "):
            self.stop()
            raise SystemExit(f"the fake did not start: {line!r}")
        self.url = line.split()[3]
        self.root = self.url.removesuffix("/v2")

    def log(self) -> list[dict[str, Any]]:
        items: list[dict[str, Any]] = []
        since = 0
        while True:
            page = httpx.get(f"{self.root}/_fake/log?since={since}&limit=20000", timeout=30).json()
            items += page["items"]
            if page["next"] == since or not page["items"]:
                return items
            since = page["next"]

    def stop(self) -> None:
        self.process.terminate()
        self.process.wait(20)
        if self.process.stdout is not None:
            self.process.stdout.close()


def _rate(times: list[float]) -> float:
    """Requests per second from sorted arrival times: 1 / the least-squares slope of time against index."""
    if len(times) < 2:
        return 0.0
    slope = statistics.linear_regression(range(len(times)), times).slope
    return 1.0 / slope if slope > 0 else float("inf")


def _percentile(values: list[float], q: float) -> float:
    if not values:
        return float("nan")
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(q * (len(ordered) - 1)))]


async def _drain(url: str, rate: float, requests: int, concurrency: int, contacts: int) -> float:
    async with PlatformClient(
        url, Secret(TOKEN), rate_limit=rate, max_retries=8, timeout=30, max_connections=concurrency
    ) as client:
        queue: asyncio.Queue[int] = asyncio.Queue()
        for index in range(requests):
            queue.put_nowait(1 + index % contacts)
        # Open a connection first, on another endpoint (its own bucket), so the first unassign is not also
        # the TCP handshake.
        await client.check_connection()

        async def worker() -> None:
            while not queue.empty():
                await client.unassign(queue.get_nowait())

        started = time.perf_counter()
        await asyncio.gather(*(worker() for _ in range(concurrency)))
        return time.perf_counter() - started


def paced_run(rate: float, requests: int, concurrency: int, contacts: int) -> dict[str, Any]:
    fake = Fake(rate, contacts)
    trips = RoundTrips()
    logger = logging.getLogger("closeout.platform")
    logger.addHandler(trips)
    logger.setLevel(logging.DEBUG)
    try:
        wall = asyncio.run(_drain(fake.url, rate, requests, concurrency, contacts))
        log = fake.log()
    finally:
        logger.removeHandler(trips)
        fake.stop()
    ok = sorted(entry["time"] for entry in log if entry["status"] == 200)
    achieved = _rate(ok)
    return {
        "rate_limit": rate,
        "requests": requests,
        "achieved_per_s": round(achieved, 2),
        "span_per_s": round((len(ok) - 1) / (ok[-1] - ok[0]), 2) if len(ok) > 1 else 0.0,
        "ratio_to_limit": round(achieved / rate, 4),
        "n_429": sum(entry["status"] == 429 for entry in log),
        "p50_ms": round(_percentile(trips.ms, 0.5), 2),
        "p99_ms": round(_percentile(trips.ms, 0.99), 2),
        "seconds": round(wall, 2),
        "concurrency": concurrency,
    }


def unlimited_run(requests: int, concurrency: int, contacts: int) -> dict[str, Any]:
    fake = Fake(0, contacts)
    try:
        asyncio.run(_drain(fake.url, 0, min(200, requests), concurrency, contacts))  # warm up connections
        wall = asyncio.run(_drain(fake.url, 0, requests, concurrency, contacts))
        raw = asyncio.run(_raw_load(fake.url, requests, concurrency))
    finally:
        fake.stop()
    return {
        "concurrency": concurrency,
        "requests": requests,
        "client_and_fake_per_s": round(requests / wall, 1),
        "fake_alone_per_s": round(raw, 1),
    }


async def _raw_load(url: str, requests: int, connections: int) -> float:
    """The fake's own ceiling: keep-alive connections sending one request at a time, parsing only lengths."""
    host_port = url.split("//", 1)[1].split("/", 1)[0]
    host, port = host_port.rsplit(":", 1)
    body = b'{"assignee":null}'
    head = (
        f"POST /v2/contact/id:1/conversation/assignee HTTP/1.1\r\nhost: {host_port}\r\n"
        f"authorization: Bearer {TOKEN}\r\ncontent-type: application/json\r\ncontent-length: {len(body)}\r\n\r\n"
    ).encode()
    per_connection = requests // connections

    async def connection() -> None:
        reader, writer = await asyncio.open_connection(host, int(port))
        for _ in range(per_connection):
            writer.write(head + body)
            headers = await reader.readuntil(b"\r\n\r\n")
            length = 0
            for line in headers.split(b"\r\n"):
                if line.lower().startswith(b"content-length:"):
                    length = int(line.split(b":")[1])
            await reader.readexactly(length)
        writer.close()
        await writer.wait_closed()

    started = time.perf_counter()
    await asyncio.gather(*(connection() for _ in range(connections)))
    return per_connection * connections / (time.perf_counter() - started)


def _numbers(values: list[str], kind: type[float] | type[int]) -> list[Any]:
    return [kind(part) for value in values for part in value.split(",") if part.strip()]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("--rate", action="append", default=[], help="rate limit(s) per second (default 5,20,100)")
    parser.add_argument("--requests", type=int, default=None, help="requests per paced run (default R x --seconds)")
    parser.add_argument("--seconds", type=float, default=10.0, help="length of each paced run (default 10)")
    parser.add_argument(
        "--in-flight", type=int, default=0, help="requests in flight in paced runs (default max(8, R / 5))"
    )
    parser.add_argument("--unlimited-requests", type=int, default=3000, help="requests per ceiling run")
    parser.add_argument("--concurrency", action="append", default=[], help="ceiling concurrency (default 2,4)")
    parser.add_argument("--contacts", type=int, default=1000, help="contacts in the fake")
    args = parser.parse_args()
    rates = _numbers(args.rate, float) or [5.0, 20.0, 100.0]
    concurrencies = _numbers(args.concurrency, int) or [2, 4]

    runs = []
    for rate in rates:
        requests = args.requests or max(20, round(rate * args.seconds))
        # Enough in flight that a slow answer (a busy machine) never leaves the pacer without a caller.
        in_flight = args.in_flight or max(8, round(rate / 5))
        run = paced_run(rate, requests, in_flight, args.contacts)
        print(json.dumps(run), flush=True)
        runs.append(run)
    unlimited = []
    for concurrency in concurrencies:
        run = unlimited_run(args.unlimited_requests, concurrency, args.contacts)
        print(json.dumps({"unlimited": run}), flush=True)
        unlimited.append(run)

    headline = next((run for run in runs if run["rate_limit"] == 20), runs[0])
    summary = {
        key: headline[key]
        for key in ("rate_limit", "requests", "achieved_per_s", "ratio_to_limit", "n_429", "p50_ms", "p99_ms")
    }
    summary["unlimited_fake_per_s"] = max(run["client_and_fake_per_s"] for run in unlimited)
    summary["fake_alone_per_s"] = max(run["fake_alone_per_s"] for run in unlimited)
    summary["runs"] = runs
    summary["unlimited"] = unlimited
    summary["targets"] = {
        "ratio_to_limit_min": 0.95,
        "n_429_max_fraction": 0.01,
        "unlimited_fake_per_s_min": 1500,
        "paced_met": all(r["ratio_to_limit"] >= 0.95 and r["n_429"] <= 0.01 * r["requests"] for r in runs),
        "ceiling_met": summary["unlimited_fake_per_s"] >= 1500,
    }
    summary["machine"] = {
        "cpus": os.cpu_count(),
        "python": sys.version.split()[0],
        "load_average_1m": round(os.getloadavg()[0], 2),
    }
    summary["median_p50_ms"] = round(statistics.median(run["p50_ms"] for run in runs), 2)
    print(json.dumps(summary), flush=True)


if __name__ == "__main__":
    main()
