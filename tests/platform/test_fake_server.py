"""FakeServer in a thread: a real port from port 0, background work started and stopped with it."""

from __future__ import annotations

import httpx

from app.platform.fake import create_fake_platform
from app.platform.fake.server import FakeServer


def test_start_in_thread_serves_and_stops() -> None:
    platform = create_fake_platform(contacts=5, closes_per_minute=6000)
    server = FakeServer(platform)
    url = server.start_in_thread()
    try:
        assert url == f"http://127.0.0.1:{server.port}/v2" and server.port != 0
        response = httpx.get(f"{url}/contact/id:2", headers={"Authorization": "Bearer demo-token"}, timeout=10)
        assert response.json()["id"] == 2
        assert platform.simulator.running
    finally:
        server.stop_thread()
    assert not platform.simulator.running
