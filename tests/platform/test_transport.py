"""The asyncio transport under httpx, against small servers on loopback that misbehave on purpose."""

from __future__ import annotations

import asyncio
import ssl
import time
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import asynccontextmanager

import httpx
import pytest
import trustme

from app.platform.transport import AsyncioTransport, transport_for

LIMITS = httpx.Limits(max_connections=4, max_keepalive_connections=4, keepalive_expiry=30.0)
OK = b"HTTP/1.1 200 OK\r\nContent-Length: 2\r\nContent-Type: text/plain\r\n\r\nok"

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
    return await reader.readuntil(b"\r\n\r\n")


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

    async with serving(answer_once_then_close) as port, httpx.AsyncClient(transport=AsyncioTransport(LIMITS)) as http:
        first = await http.get(f"http://127.0.0.1:{port}/one")
        await asyncio.wait_for(closed.wait(), 5)
        await asyncio.sleep(0.05)  # let the loop see the end of the stream
        second = await http.get(f"http://127.0.0.1:{port}/two")

    assert (first.text, second.text) == ("ok", "ok")
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

    async with serving(answer_then_time_out) as port, httpx.AsyncClient(transport=AsyncioTransport(LIMITS)) as http:
        first = await http.get(f"http://127.0.0.1:{port}/one")
        await asyncio.wait_for(said_goodbye.wait(), 5)
        await asyncio.sleep(0.05)
        second = await http.get(f"http://127.0.0.1:{port}/two")

    assert (first.status_code, second.status_code) == (200, 200)
    assert connections == 2


async def test_requests_share_one_connection_while_the_server_keeps_it() -> None:
    connections = 0

    async def keep_answering(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        nonlocal connections
        connections += 1
        while True:
            await read_request(reader)
            writer.write(OK)
            await writer.drain()

    async with serving(keep_answering) as port, httpx.AsyncClient(transport=AsyncioTransport(LIMITS)) as http:
        texts = [(await http.get(f"http://127.0.0.1:{port}/{i}")).text for i in range(5)]

    assert texts == ["ok"] * 5
    assert connections == 1


async def test_a_server_that_never_answers_is_a_read_timeout() -> None:
    async def silent(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        await read_request(reader)
        await asyncio.sleep(5)

    async with serving(silent) as port, httpx.AsyncClient(transport=AsyncioTransport(LIMITS), timeout=0.2) as http:
        with pytest.raises(httpx.ReadTimeout):
            await http.get(f"http://127.0.0.1:{port}/")


async def test_a_connection_dropped_mid_response_is_a_transport_error() -> None:
    async def half_then_drop(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        await read_request(reader)
        writer.write(b"HTTP/1.1 200 OK\r\nContent-Length: 100\r\n\r\npartial")
        await writer.drain()

    async with serving(half_then_drop) as port, httpx.AsyncClient(transport=AsyncioTransport(LIMITS)) as http:
        with pytest.raises(httpx.TransportError):
            await http.get(f"http://127.0.0.1:{port}/")


async def test_nobody_listening_is_a_connect_error() -> None:
    async with serving(read_request) as port:
        pass  # the port is free again
    async with httpx.AsyncClient(transport=AsyncioTransport(LIMITS)) as http:
        with pytest.raises(httpx.ConnectError):
            await http.get(f"http://127.0.0.1:{port}/")


async def test_https_is_verified_against_the_given_roots(tls: tuple[ssl.SSLContext, ssl.SSLContext]) -> None:
    server_context, trusting = tls

    async def answer(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        await read_request(reader)
        writer.write(OK)
        await writer.drain()

    async with serving(answer, server_context) as port:
        async with httpx.AsyncClient(transport=AsyncioTransport(LIMITS, trusting)) as http:
            response = await http.get(f"https://localhost:{port}/")
            assert response.text == "ok"
        async with httpx.AsyncClient(transport=AsyncioTransport(LIMITS)) as http:  # the CA is not in the defaults
            with pytest.raises(httpx.ConnectError, match="CERTIFICATE_VERIFY_FAILED"):
                await http.get(f"https://localhost:{port}/")


async def test_a_tls_peer_that_stops_reading_fails_the_request_within_its_timeout(
    tls: tuple[ssl.SSLContext, ssl.SSLContext],
) -> None:
    server_context, trusting = tls

    async def stop_reading(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        await read_request(reader)
        writer.transport.pause_reading()  # gone quiet: not even a TLS close_notify will be answered
        await asyncio.sleep(60)

    client = httpx.AsyncClient(transport=AsyncioTransport(LIMITS, trusting), timeout=0.3)
    async with serving(stop_reading, server_context) as port, client as http:
        started = time.monotonic()
        with pytest.raises(httpx.ReadTimeout):
            await http.get(f"https://localhost:{port}/")
        assert time.monotonic() - started < 5  # closing the dead connection does not wait for the peer


def test_a_proxy_in_the_environment_leaves_the_url_to_httpx(monkeypatch: pytest.MonkeyPatch) -> None:
    api = httpx.URL("https://api.respond.io/v2/")
    for name in ("HTTPS_PROXY", "https_proxy", "ALL_PROXY", "all_proxy", "NO_PROXY", "no_proxy"):
        monkeypatch.delenv(name, raising=False)
    assert isinstance(transport_for(api, LIMITS), AsyncioTransport)

    monkeypatch.setenv("HTTPS_PROXY", "http://proxy.example:3128")
    assert transport_for(api, LIMITS) is None

    monkeypatch.setenv("NO_PROXY", "api.respond.io")
    assert isinstance(transport_for(api, LIMITS), AsyncioTransport)
