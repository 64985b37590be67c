"""What one reconciling poll costs on a large workspace, and how fast the closes it finds are caught up.

A fake workspace of `--contacts` contacts (default 100,000) and `--agents` users (200), of which `--assigned`
contacts (2,000) have an assignee and `--closed` of those (300) are closed but still assigned (the missed
closes). The fake is served by uvicorn on loopback with `--rate-limit` requests per endpoint per second (5).
The script then, in one run:

1. runs one poll through the real client and the real poller (users, then the assigned contacts), on a fresh
   database, counting the requests the fake received: `requests_per_poll`, `detected`;
2. lists every contact the way the poll did before it filtered (users, then `/contact/list` with no filter),
   with the fake's limit lifted so it takes seconds rather than minutes: `requests_per_poll_full_scan`;
   `poll_seconds_at_5_per_s` is requests / 5 for each;
3. starts the drain on the commands the poll's closes produced and times the catch-up at the rate limit:
   `catchup_unassigns_per_s` (unassigns the fake accepted / time from the first to the last),
   `ratio_to_limit` (that / `--rate-limit`), `n_429` (429s over the whole run) and `doubled` (contacts
   unassigned more than once).

It prints one JSON line. Targets: requests_per_poll <= 30, detected = closed, ratio_to_limit >= 0.95,
n_429 = 0, doubled = 0.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import random
import sys
import tempfile
import time
from collections import Counter
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from app.domain.secret import Secret  # noqa: E402
from app.engine.catalog import use_template  # noqa: E402
from app.engine.lifecycle import publish  # noqa: E402
from app.events import EventBus  # noqa: E402
from app.platform.client import PlatformClient  # noqa: E402
from app.platform.fake import create_fake_platform  # noqa: E402
from app.platform.fake.platform import FakePlatform  # noqa: E402
from app.platform.fake.server import FakeServer  # noqa: E402
from app.storage.store import Store  # noqa: E402
from app.sync.service import SyncOptions, SyncService  # noqa: E402

TOKEN = "poll-bench-token"
ASSIGNEE_PATH = "/conversation/assignee"


def shape_workspace(platform: FakePlatform, assigned: int, closed: int, seed: int) -> None:
    """Leave exactly `assigned` contacts with an assignee, `closed` of them closed and the rest open."""
    state = platform.state
    rng = random.Random(f"{seed}-poll-cost")
    agents = [user for user in state.users.values() if user.role != "owner"]
    for contact in state.contacts.values():
        contact.assignee_id = None
    chosen = rng.sample(sorted(state.contacts), assigned)
    for position, contact_id in enumerate(chosen):
        contact = state.contacts[contact_id]
        agent = rng.choice(agents)
        if position < closed:
            if contact.status != "closed":
                state.close_conversation(contact, "user", agent)
        elif contact.status == "closed":
            state.open_conversation(contact, "contact")
        contact.assignee_id = agent.id


def requests_since(platform: FakePlatform, start: int) -> list[Any]:
    entries, _ = platform.log.since(start, limit=10_000_000)
    return [entry for _, entry in entries]


async def full_scan(url: str, platform: FakePlatform) -> int:
    """The poll as it was: every user, then every contact of the workspace; returns the requests it took."""
    start = platform.log.total
    limit = platform.limiter.limit
    platform.limiter.set_limit(0)
    try:
        async with PlatformClient(url, Secret(TOKEN), rate_limit=0) as client:
            await client.list_users()
            async for _ in client.list_contacts():
                pass
    finally:
        platform.limiter.set_limit(limit)
    return platform.log.total - start


async def run(args: argparse.Namespace) -> dict[str, Any]:
    platform = create_fake_platform(
        token=TOKEN, seed=args.seed, users=args.agents, contacts=args.contacts, rate_limit=args.rate_limit
    )
    shape_workspace(platform, args.assigned, args.closed, args.seed)
    server = FakeServer(platform)
    url = server.start_in_thread(timeout=60)
    try:
        with tempfile.TemporaryDirectory() as folder:
            store = Store.open(f"sqlite:///{Path(folder) / 'poll.sqlite3'}")
            client = PlatformClient(url, Secret(TOKEN), rate_limit=args.rate_limit)
            service = SyncService(store, client, EventBus(), SyncOptions(poll_seconds=3600))
            try:
                store.workflows.save(publish(use_template("unassign-after-close")))
                await service.start(poll=False, drain=False)
                before = platform.log.total
                poll_started = time.perf_counter()
                result = await service.poller.poll_once()
                poll_seconds = time.perf_counter() - poll_started
                requests_per_poll = platform.log.total - before
                scan = await full_scan(url, platform)
                await asyncio.sleep(1.0)  # let the endpoint budgets the scan spent refill
                catchup_start = platform.log.total
                drain = asyncio.create_task(service.drain.run())
                try:
                    deadline = time.monotonic() + args.closed / args.rate_limit * 3 + 30
                    while await store.db.read(store.outbox.depth) and time.monotonic() < deadline:
                        await asyncio.sleep(0.2)
                finally:
                    drain.cancel()
                    await asyncio.gather(drain, return_exceptions=True)
                depth = await store.db.read(store.outbox.depth)
            finally:
                await service.stop()
                await client.aclose()
                store.close()
    finally:
        server.stop_thread()
    everything = requests_since(platform, 0)
    catchup = requests_since(platform, catchup_start)
    unassigns = [e for e in catchup if e.method == "POST" and e.path.endswith(ASSIGNEE_PATH) and e.status == 200]
    per_contact = Counter(e.path for e in everything if e.method == "POST" and e.path.endswith(ASSIGNEE_PATH))
    span = unassigns[-1].time - unassigns[0].time if len(unassigns) > 1 else 0.0
    per_s = (len(unassigns) - 1) / span if span > 0 else 0.0
    return {
        "contacts": args.contacts,
        "agents": args.agents,
        "assigned": result.contacts,
        "requests_per_poll": requests_per_poll,
        "requests_per_poll_full_scan": scan,
        "poll_seconds_at_5_per_s": round(requests_per_poll / 5, 1),
        "poll_seconds_full_scan_at_5_per_s": round(scan / 5, 1),
        "poll_seconds_measured": round(poll_seconds, 2),
        "poll_form": result.form,
        "detected": result.detected,
        "rate_limit": args.rate_limit,
        "unassigned": len(unassigns),
        "outbox_left": depth,
        "catchup_seconds": round(span, 2),
        "catchup_unassigns_per_s": round(per_s, 3),
        "ratio_to_limit": round(per_s / args.rate_limit, 3),
        "n_429": sum(1 for e in everything if e.status == 429),
        "doubled": sum(1 for count in per_contact.values() if count > 1),
        "targets": {
            "requests_per_poll": "<= 30",
            "detected": f"= {args.closed}",
            "ratio_to_limit": ">= 0.95",
            "n_429": "= 0",
            "doubled": "= 0",
        },
    }


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--contacts", type=int, default=100_000)
    parser.add_argument("--agents", type=int, default=200)
    parser.add_argument("--assigned", type=int, default=2_000)
    parser.add_argument("--closed", type=int, default=300)
    parser.add_argument("--rate-limit", type=float, default=5.0)
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args()
    if not 0 < args.closed <= args.assigned <= args.contacts:
        parser.error("need 0 < --closed <= --assigned <= --contacts")
    sys.stdout.write(json.dumps(asyncio.run(run(args))) + "\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
