"""A drain asked to finish (the runner role handed on) returns promptly, even while the platform is unreachable."""

from __future__ import annotations

import asyncio

from app.domain.secret import Secret
from app.platform.client import PlatformClient
from app.sync.connectivity import Connectivity
from tests.helpers import wait_until
from tests.loopback import free_port
from tests.sync.conftest import Rig


async def test_an_offline_drain_asked_to_finish_stops_probing_and_returns(rig: Rig) -> None:
    await rig.service.start(poll=False, drain=False)
    await rig.publish_unassign()
    await rig.close_and_record(rig.assigned_contacts()[0])
    await rig.service.set_client(PlatformClient(f"http://127.0.0.1:{free_port()}", Secret("t"), rate_limit=0))
    drain = rig.service.drain
    running = asyncio.create_task(drain.run())
    try:
        await wait_until(lambda: rig.service.connectivity.state is Connectivity.OFFLINE, timeout=10)
        drain.finish()
        await asyncio.wait_for(asyncio.shield(running), 3)
    finally:
        running.cancel()
        await asyncio.gather(running, return_exceptions=True)
    assert await rig.store.db.read(rig.store.outbox.depth) == 1  # the unsent command waits for the next runner
