"""A shared PostgreSQL that goes away and comes back: said in words, nothing acknowledged unstored, then recovered.

The test stops and starts a cluster of its own (never the run's shared test server): a runner that receives
webhooks and a watching service follow the same database through the outage.
"""

from __future__ import annotations

import asyncio
import json
import logging
import os
from collections.abc import AsyncIterator
from contextlib import AsyncExitStack
from dataclasses import dataclass

import httpx
import pytest

from app.domain.secret import Secret
from app.domain.signing_keys import SigningKey
from app.events import EventBus
from app.platform.client import PlatformClient
from app.platform.fake.platform import IN_PROCESS_URL, FakePlatform, create_fake_platform
from app.platform.webhooks import SIGNATURE_HEADER, sign
from app.storage.change_feed import NotifyChangeFeed
from app.storage.store import Store
from app.sync.service import SyncOptions, SyncService
from tests import pg
from tests.helpers import wait_until

KEY = "key-for-closed-outage"
OUTAGE_SECONDS = float(os.environ.get("CLOSEOUT_TEST_OUTAGE_SECONDS", "5"))
"""How long the server stays down (the issue's 30 s with CLOSEOUT_TEST_OUTAGE_SECONDS=30)."""

pytestmark = [pytest.mark.postgres, pytest.mark.log_errors_expected]


@dataclass
class Pair:
    fake: FakePlatform
    runner: SyncService
    viewer: SyncService
    webhook_url: str


@pytest.fixture
async def pair(own_cluster: pg.Cluster) -> AsyncIterator[Pair]:
    admin = own_cluster.admin
    url = admin.set(database="closeout").render_as_string(hide_password=False)
    server = pg.PgServer(admin)
    server.execute('CREATE DATABASE "closeout"')
    server.close()
    fake = create_fake_platform(seed=5, users=4, contacts=20, rate_limit=0)
    async with AsyncExitStack() as stack:
        services = []
        for receives in (True, False):
            store = Store.open(url)
            stack.callback(store.close)
            client = PlatformClient(IN_PROCESS_URL, Secret(fake.token), rate_limit=0, transport=fake.transport())
            stack.push_async_callback(client.aclose)
            options = SyncOptions(
                poll_seconds=3600,
                lease_seconds=2,
                webhook_port=0 if receives else None,
                webhook_keys=(SigningKey("closed", Secret(KEY)),),
            )
            service = SyncService(store, client, EventBus(), options)
            await service.start(poll=False, drain=receives)
            stack.push_async_callback(service.stop)
            services.append(service)
        runner, viewer = services
        assert runner.webhook_url is not None
        await wait_until(lambda: runner.is_runner)
        yield Pair(fake, runner, viewer, runner.webhook_url)


def _close_body(fake: FakePlatform) -> bytes:
    bodies: list[bytes] = []
    fake.add_listener(bodies.append)
    try:
        contact = next(c for c in fake.state.contacts.values() if c.assignee_id is not None and c.status == "open")
        fake.state.close_conversation(contact, "user", fake.state.users[contact.assignee_id], "Resolved", "")
    finally:
        fake.remove_listener(bodies.append)
    return next(b for b in bodies if json.loads(b)["event_type"] == "conversation.closed")


async def _post(url: str, body: bytes) -> httpx.Response:
    headers = {"content-type": "application/json", SIGNATURE_HEADER: sign(KEY, body)}
    async with httpx.AsyncClient(timeout=30) as client:
        return await client.post(url, content=body, headers=headers)


async def test_the_database_going_away_is_said_refused_and_recovered(
    pair: Pair, own_cluster: pg.Cluster, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.INFO, "closeout")
    first = _close_body(pair.fake)
    assert (await _post(pair.webhook_url, first)).status_code == 200
    feed = pair.viewer.changes
    assert isinstance(feed, NotifyChangeFeed)
    await wait_until(lambda: pair.viewer.store.closes.count() == 1 and feed.listening)

    # A clean stop: the test cluster skips flushing commits to disk, so a crash would lose what it had.
    await asyncio.to_thread(own_cluster.stop, "fast")
    during = _close_body(pair.fake)
    refused = await _post(pair.webhook_url, during)
    # Nothing acknowledged that was not stored: the platform is told to deliver it again, in words.
    assert refused.status_code == 503, refused.text
    assert refused.headers["retry-after"] == "30"
    assert "cannot be reached" in refused.json()["message"]
    # The watching side and the runner say so in words.
    await wait_until(lambda: feed.problem is not None and "cannot be reached" in feed.problem, timeout=10)
    assert "stopped hearing commits" in caplog.text
    await wait_until(lambda: pair.runner.problem is not None, timeout=15)
    assert "cannot be reached" in str(pair.runner.problem)
    await asyncio.sleep(OUTAGE_SECONDS)

    await asyncio.to_thread(own_cluster.start)
    # The platform delivers again; the runner stores it and the viewer hears of it.
    await wait_until(lambda: feed.listening and feed.problem is None, timeout=15)
    accepted = await _post(pair.webhook_url, during)
    assert accepted.status_code == 200, accepted.text
    assert (await _post(pair.webhook_url, during)).status_code == 200  # a replay changes nothing
    assert pair.runner.store.closes.count() == 2
    assert "hears commits" in caplog.text
    await wait_until(lambda: pair.runner.problem is None, timeout=20)
    await wait_until(lambda: pair.runner.is_runner, timeout=20)
