"""The client's connections, against small servers on loopback that misbehave on purpose."""

from __future__ import annotations

import asyncio
import ssl
import time
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import asynccontextmanager

import httpx
import pytest
import trustme

from app.domain.errors import Offline
from app.domain.secret import Secret
from app.platform.client import PlatformClient

LIMITS = httpx.Limits(max_connections=4, max_keepalive_connections=4, keepalive_expiry=30.0)
OK = b"HTTP/1.1 200 OK\r\nContent-Length: 2\r\nContent-Type: application/json\r\n\r\n{}"
TOKEN = Secret("loopback-token")

Handler = Callable[[asyncio.StreamReader, asyncio.StreamWriter], Awaitable[None]]


@asynccontextmanager
async def serving(handler: Handler, ssl_context: ssl.SSLContext | None = None) -> AsyncIterator[int]:
    """A server on a free loopback port running `handler` per connection; yields the port.

    On the way out, connections still open are cut and their handlers cancelled, so none outlives the test.
    """
    handlers: set[asyncio.Task[None]] = set()

    async def connection(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        task = asyncio.current_task()
        assert task is not None
        handlers.add(task)
        try:
            await handler(reader, writer)
        except (ConnectionError, asyncio.IncompleteReadError):
            pass
        except asyncio.CancelledError:
            # WORKAROUND: before Python 3.12.2 the streams callback logs a cancelled handler task as an error
            # (https://github.com/python/cpython/issues/113538); the handler is being shut down, so end quietly.
            pass
        finally:
            writer.transport.abort()
            handlers.discard(task)

    server = await asyncio.start_server(connection, "127.0.0.1", 0, ssl=ssl_context)
    try:
        yield server.sockets[0].getsockname()[1]
    finally:
        server.close()
        for task in list(handlers):
            task.cancel()
        await asyncio.gather(*handlers, return_exceptions=True)
        await server.wait_closed()


@pytest.fixture
def tls() -> tuple[ssl.SSLContext, ssl.SSLContext]:
    """A server context with a certificate for localhost from a throwaway CA, and a client context trusting it."""
    authority = trustme.CA()
    server_context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    authority.issue_cert("localhost").configure_cert(server_context)
    trusting = ssl.create_default_context()
    authority.configure_trust(trusting)
    return server_context, trusting


async def read_request(reader: asyncio.StreamReader) -> bytes:
    """One request's head, its body read and dropped, so the next request on the connection reads cleanly."""
    head = await reader.readuntil(b"\r\n\r\n")
    for line in head.split(b"\r\n"):
        name, _, value = line.partition(b":")
        if name.strip().lower() == b"content-length":
            await reader.readexactly(int(value))
    return head


def client_for(base: str, *, timeout: float = 5.0, transport: httpx.AsyncBaseTransport | None = None) -> PlatformClient:
    """A client on `base`, unpaced and never retrying, so each test counts its own connections and errors."""
    return PlatformClient(base, TOKEN, rate_limit=0, max_retries=0, timeout=timeout, transport=transport)


def trusting_transport(trusting: ssl.SSLContext) -> httpx.AsyncHTTPTransport:
    """httpx's own transport, checking certificates against `trusting` (the client's own checks the defaults)."""
    return httpx.AsyncHTTPTransport(verify=trusting, limits=LIMITS)


async def test_a_kept_alive_connection_the_server_closed_is_replaced_not_reused() -> None:
    connections = 0
    closed = asyncio.Event()

    async def answer_once_then_close(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        nonlocal connections
        connections += 1
        await read_request(reader)
        writer.write(OK)  # HTTP/1.1 without "Connection: close": the client keeps the connection
        await writer.drain()
        writer.close()
        closed.set()

    async with serving(answer_once_then_close) as port, client_for(f"http://127.0.0.1:{port}") as client:
        await client.unassign(1)
        await asyncio.wait_for(closed.wait(), 5)
        await asyncio.sleep(0.05)  # let the loop see the end of the stream
        await client.unassign(2)

    assert connections == 2


async def test_a_connection_the_server_ended_with_a_last_word_is_not_reused() -> None:
    connections = 0
    said_goodbye = asyncio.Event()

    async def answer_then_time_out(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        nonlocal connections
        connections += 1
        await read_request(reader)
        writer.write(OK)
        await writer.drain()
        await asyncio.sleep(0.05)  # idle too long: a server sends 408 and hangs up
        writer.write(b"HTTP/1.1 408 Request Timeout\r\nConnection: close\r\nContent-Length: 0\r\n\r\n")
        await writer.drain()
        writer.close()
        said_goodbye.set()

    async with serving(answer_then_time_out) as port, client_for(f"http://127.0.0.1:{port}") as client:
        await client.unassign(1)
        await asyncio.wait_for(said_goodbye.wait(), 5)
        await asyncio.sleep(0.05)
        await client.unassign(2)  # a 408 read as this call's answer would raise ValidationFailed

    assert connections == 2


async def test_requests_share_one_connection_while_the_server_keeps_it() -> None:
    connections = 0
    requests: list[bytes] = []

    async def keep_answering(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        nonlocal connections
        connections += 1
        while True:
            requests.append(await read_request(reader))
            writer.write(OK)
            await writer.drain()

    async with serving(keep_answering) as port, client_for(f"http://127.0.0.1:{port}") as client:
        for contact in range(5):
            await client.unassign(contact)

    assert [request.split(b" ")[1] for request in requests] == [
        f"/contact/id:{contact}/conversation/assignee".encode() for contact in range(5)
    ]
    assert connections == 1


async def test_a_server_that_never_answers_is_offline_within_the_timeout() -> None:
    async def silent(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        await read_request(reader)
        await asyncio.sleep(5)

    async with serving(silent) as port, client_for(f"http://127.0.0.1:{port}", timeout=0.2) as client:
        with pytest.raises(Offline, match=r"did not answer within 0\.2 s"):
            await client.unassign(1)


async def test_a_connection_dropped_mid_response_is_offline() -> None:
    async def half_then_drop(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        await read_request(reader)
        writer.write(b"HTTP/1.1 200 OK\r\nContent-Length: 100\r\n\r\npartial")
        await writer.drain()

    async with serving(half_then_drop) as port, client_for(f"http://127.0.0.1:{port}") as client:
        with pytest.raises(Offline, match="connection to the platform failed"):
            await client.unassign(1)


async def test_nobody_listening_is_offline() -> None:
    async with serving(read_request) as port:
        pass  # the port is free again
    async with client_for(f"http://127.0.0.1:{port}") as client:
        with pytest.raises(Offline, match=r"Cannot reach the platform \(ConnectError\)"):
            await client.unassign(1)


async def test_https_is_verified_against_the_default_roots(tls: tuple[ssl.SSLContext, ssl.SSLContext]) -> None:
    server_context, trusting = tls

    async def answer(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        await read_request(reader)
        writer.write(OK)
        await writer.drain()

    async with serving(answer, server_context) as port:
        base = f"https://localhost:{port}"
        async with client_for(base, transport=trusting_transport(trusting)) as client:
            await client.unassign(1)
        async with client_for(base) as client:  # the throwaway CA is not among the defaults
            with pytest.raises(Offline, match=r"Cannot reach the platform \(ConnectError\)"):
                await client.unassign(1)


async def test_a_tls_peer_that_stops_reading_fails_the_call_within_its_timeout(
    tls: tuple[ssl.SSLContext, ssl.SSLContext],
) -> None:
    server_context, trusting = tls

    async def stop_reading(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        await read_request(reader)
        writer.transport.pause_reading()  # gone quiet: not even a TLS close_notify will be answered
        await asyncio.sleep(60)

    async with serving(stop_reading, server_context) as port:
        client = client_for(f"https://localhost:{port}", timeout=0.3, transport=trusting_transport(trusting))
        async with client:
            started = time.monotonic()
            with pytest.raises(Offline, match=r"did not answer within 0\.3 s"):
                await client.unassign(1)
        assert time.monotonic() - started < 5  # closing the dead connection does not wait for the peer


async def test_a_proxy_in_the_environment_carries_calls_to_the_platform_not_to_loopback(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    seen: list[bytes] = []

    async def proxy(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        seen.append((await read_request(reader)).split(b"\r\n")[0])
        writer.write(OK)
        await writer.drain()

    for name in ("HTTPS_PROXY", "https_proxy", "ALL_PROXY", "all_proxy", "NO_PROXY", "no_proxy"):
        monkeypatch.delenv(name, raising=False)
    async with serving(proxy) as proxy_port, serving(proxy) as direct_port:
        monkeypatch.setenv("HTTP_PROXY", f"http://127.0.0.1:{proxy_port}")
        async with client_for("http://api.respond.invalid/v2") as client:
            await client.unassign(1)  # only the proxy can answer for a name that does not resolve
        async with client_for(f"http://127.0.0.1:{direct_port}/v2") as client:
            await client.unassign(2)

    assert seen == [
        b"POST http://api.respond.invalid/v2/contact/id:1/conversation/assignee HTTP/1.1",
        b"POST /v2/contact/id:2/conversation/assignee HTTP/1.1",
    ]
