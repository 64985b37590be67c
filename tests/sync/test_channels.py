"""The channel of each close, looked up on the platform: a failure that passes never marks a close as channel-less."""

from __future__ import annotations

import asyncio

import pytest

from app.domain.secret import Secret
from app.platform.client import PlatformClient
from app.platform.fake.platform import IN_PROCESS_URL
from app.sync import channels
from tests.helpers import wait_until
from tests.sync.conftest import Rig


async def _channel_of_each(rig: Rig) -> list[str | None]:
    closes = await rig.store.db.read(rig.store.closes.newest, 100)
    return [c.channel for c in closes]


async def test_a_rejected_token_leaves_the_channel_to_look_up_once_a_good_token_is_back(
    rig: Rig, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(channels, "BACKOFF_SECONDS", 0.05)
    await rig.service.start(poll=False, drain=False)  # intake only: the test runs the lookup itself
    contact = rig.assigned_contacts()[0]
    await rig.close_and_record(contact)
    good = rig.service.client
    await rig.service.set_client(
        PlatformClient(IN_PROCESS_URL, Secret("not-the-token"), rate_limit=0, transport=rig.fake.transport())
    )
    lookup = asyncio.create_task(rig.service.channels.run())
    try:
        await asyncio.sleep(0.3)
        assert await _channel_of_each(rig) == [None]  # not "" (shown as "—" for good)
        await rig.service.set_client(good)
        await wait_until(lambda: rig.service.channels.looked_up == 1, timeout=5)
        assert (await _channel_of_each(rig))[0]
    finally:
        lookup.cancel()
        await asyncio.gather(lookup, return_exceptions=True)


async def test_closes_recorded_before_the_lookup_started_get_their_channel(rig: Rig) -> None:
    await rig.service.start(poll=False, drain=False)
    for contact in rig.assigned_contacts()[:3]:
        await rig.close_and_record(contact)  # as under a runner that stopped or handed over before looking up
    lookup = asyncio.create_task(rig.service.channels.run())
    try:
        await wait_until(lambda: rig.service.channels.looked_up == 3, timeout=5)
        assert all(await _channel_of_each(rig))
    finally:
        lookup.cancel()
        await asyncio.gather(lookup, return_exceptions=True)
