"""The demo's fake on a loop of its own: requests cross to it and back, events leave from its thread."""

from __future__ import annotations

import threading

import pytest

from app.domain.errors import Offline
from app.domain.secret import Secret
from app.platform.client import PlatformClient
from app.platform.fake import IN_PROCESS_URL, create_fake_platform
from app.platform.fake.threaded import ThreadedFake
from app.platform.webhooks import parse_event
from tests.helpers import wait_until


async def test_requests_are_served_on_the_fakes_own_thread_and_events_come_from_it() -> None:
    fake = create_fake_platform(seed=3, users=3, contacts=5, rate_limit=0)
    runner = ThreadedFake(fake)
    delivered: list[tuple[str, bytes]] = []
    fake.add_listener(lambda body: delivered.append((threading.current_thread().name, body)))
    client = PlatformClient(IN_PROCESS_URL, Secret(fake.token), rate_limit=0, transport=runner.transport())
    try:
        with pytest.raises(Offline):  # not started yet: as if the workspace could not be reached
            await client.list_users()
        await runner.start()
        assert runner.running
        assert len(await client.list_users()) == 3
        contact_id = next(iter(fake.state.open_ids))
        await client.close_conversation(f"id:{contact_id}", category="Resolved")
        await wait_until(lambda: delivered)
        thread, body = delivered[0]
        assert thread == "closeout-demo-platform" != threading.current_thread().name
        assert parse_event(body).contact.id == contact_id  # type: ignore[union-attr]
    finally:
        await runner.stop()
        await client.aclose()
    assert not runner.running
    assert not any(t.name == "closeout-demo-platform" for t in threading.enumerate())
