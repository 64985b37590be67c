"""Fixtures for contract tests: the fake platform behind a real uvicorn server on a loopback port.

One server runs for the whole session, in a thread; each test gets a fresh FakePlatform swapped in behind
it, so tests stay independent without paying a server start and stop each.
"""

from __future__ import annotations

import socket
import threading
from collections.abc import AsyncIterator, Callable, Iterator
from typing import Any

import httpx
import pytest
import uvicorn
from starlette.types import ASGIApp, Receive, Scope, Send

from app.domain.secret import Secret
from app.platform.client import PlatformClient
from app.platform.fake import FakePlatform, create_fake_platform
from app.platform.fake.server import quiet_injected_resets

TOKEN = "contract-token-5f3a9c"


class Switch:
    """An ASGI app that forwards to whichever fake the current test installed."""

    def __init__(self) -> None:
        self.app: ASGIApp | None = None

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        assert self.app is not None, "no fake installed"
        await self.app(scope, receive, send)


class Server:
    """uvicorn serving a Switch from a daemon thread."""

    def __init__(self) -> None:
        self.switch = Switch()
        self.socket = socket.socket(socket.AF_INET, socket.SOCK_STREAM, socket.IPPROTO_TCP)
        self.socket.bind(("127.0.0.1", 0))
        self.url = f"http://127.0.0.1:{self.socket.getsockname()[1]}/v2"
        quiet_injected_resets()
        config = uvicorn.Config(
            self.switch, lifespan="off", ws="none", log_level="warning", access_log=False, timeout_graceful_shutdown=2
        )
        self.server = uvicorn.Server(config)
        self.thread = threading.Thread(target=self.server.run, kwargs={"sockets": [self.socket]}, daemon=True)

    def start(self) -> None:
        self.thread.start()
        ready = threading.Event()
        while not ready.wait(0.01):
            if self.server.started or not self.thread.is_alive():
                ready.set()
        assert self.server.started, "the contract-test server did not start"

    def stop(self) -> None:
        self.server.should_exit = True
        self.thread.join(10)
        self.socket.close()


class Served:
    """A running fake and helpers to look at it over HTTP, as a separate process would."""

    def __init__(self, platform: FakePlatform, url: str) -> None:
        self.platform = platform
        self.url = url
        self.root = url.removesuffix("/v2")

    def control(self, method: str, path: str, **kwargs: Any) -> Any:
        response = httpx.request(method, self.root + "/_fake" + path, timeout=10, **kwargs)
        response.raise_for_status()
        return response.json()

    def log(self, since: int = 0) -> list[dict[str, Any]]:
        items: list[dict[str, Any]] = self.control("GET", f"/log?since={since}")["items"]
        return items

    def faults(self, **body: Any) -> None:
        self.control("POST", "/faults", json=body)

    def client(self, **options: Any) -> PlatformClient:
        settings: dict[str, Any] = {
            "rate_limit": 0,
            "timeout": 5.0,
            "max_retries": 3,
            "backoff_base": 0.01,
            "backoff_max": 0.05,
        }
        settings.update(options)
        token = settings.pop("token", TOKEN)
        return PlatformClient(self.url, Secret(token), **settings)


@pytest.fixture(scope="session")
def server() -> Iterator[Server]:
    running = Server()
    running.start()
    yield running
    running.stop()


@pytest.fixture
def serve(server: Server) -> Iterator[Callable[..., Served]]:
    """Install a fresh fake with the given options behind the server (one per test)."""
    installed: list[Served] = []

    def start(**options: Any) -> Served:
        assert not installed, "one fake per test"
        options.setdefault("token", TOKEN)
        options.setdefault("rate_limit", 0)
        options.setdefault("contacts", 30)
        platform = create_fake_platform(**options)
        server.switch.app = platform.app
        installed.append(Served(platform, server.url))
        return installed[0]

    yield start
    server.switch.app = None


@pytest.fixture
def served(serve: Callable[..., Served]) -> Served:
    """One fake with default options: 30 contacts, unlimited rate, no faults."""
    return serve()


@pytest.fixture
async def client(served: Served) -> AsyncIterator[PlatformClient]:
    """A client for `served` with fast backoff and no pacing."""
    async with served.client() as platform_client:
        yield platform_client
