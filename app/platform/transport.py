"""httpx's transport on plain asyncio streams: the same connection pool, a leaner way to the sockets.

httpx's default transport reaches sockets through anyio. On every request the pool asks each kept-alive
connection whether the server closed it, and anyio answers by building a table of socket attributes; it also
looks up the current task on every read and write. Profiled at 50 closes a second, that was about a fifth of
the client's CPU per request. httpcore lets a transport pick its network backend, so this one hands it asyncio
streams: the pool, HTTP/1.1 parsing, keep-alive and httpx's error mapping stay exactly as they were.

A proxy set in the environment (HTTPS_PROXY and friends) is httpx's business: `transport_for` returns None
then, so the client falls back to httpx's own transport, which routes through it.
"""

from __future__ import annotations

import asyncio
import select
import ssl
import urllib.request
from collections.abc import Awaitable, Iterable
from typing import Any

import httpcore
import httpx

CLOSE_GRACE = 0.25
HAPPY_EYEBALLS_DELAY = 0.25  # try the next address (IPv4 after a silent IPv6) this soon, as anyio does
_EXTRA = {"ssl_object": "ssl_object", "client_addr": "sockname", "server_addr": "peername", "socket": "socket"}
SocketOption = tuple[int, int, int] | tuple[int, int, bytes | bytearray] | tuple[int, int, None, int]


class AsyncioStream(httpcore.AsyncNetworkStream):
    """One connection as an asyncio reader/writer pair, raising httpcore's errors."""

    def __init__(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        """Wrap an open connection."""
        self._reader = reader
        self._writer = writer

    async def read(self, max_bytes: int, timeout: float | None = None) -> bytes:
        """Up to `max_bytes`; b"" when the server closed the connection."""
        try:
            async with asyncio.timeout(timeout):
                return await self._reader.read(max_bytes)
        except TimeoutError as exc:
            raise httpcore.ReadTimeout(f"no data within {timeout} s") from exc
        except OSError as exc:
            raise httpcore.ReadError(str(exc) or type(exc).__name__) from exc

    async def write(self, buffer: bytes, timeout: float | None = None) -> None:
        """Send `buffer`, waiting while the socket's buffer is full."""
        if not buffer:
            return
        try:
            async with asyncio.timeout(timeout):
                self._writer.write(buffer)
                await self._writer.drain()
        except TimeoutError as exc:
            raise httpcore.WriteTimeout(f"could not send within {timeout} s") from exc
        except OSError as exc:
            raise httpcore.WriteError(str(exc) or type(exc).__name__) from exc

    async def aclose(self) -> None:
        """Close the connection, waiting at most CLOSE_GRACE for it (then cutting it).

        Closing TLS sends close_notify and would wait up to 30 s for the peer's reply; httpcore closes
        connections inside a failing request, so a dead peer would hold the error back that long.
        """
        self._writer.close()
        try:
            async with asyncio.timeout(CLOSE_GRACE):
                await self._writer.wait_closed()
        except (TimeoutError, OSError):
            self._writer.transport.abort()

    async def start_tls(
        self, ssl_context: ssl.SSLContext, server_hostname: str | None = None, timeout: float | None = None
    ) -> httpcore.AsyncNetworkStream:
        """Upgrade this connection to TLS in place."""
        try:
            await self._writer.start_tls(ssl_context, server_hostname=server_hostname, ssl_handshake_timeout=timeout)
        except TimeoutError as exc:
            raise httpcore.ConnectTimeout(f"TLS handshake not done within {timeout} s") from exc
        except (OSError, ssl.SSLError) as exc:
            raise httpcore.ConnectError(str(exc) or type(exc).__name__) from exc
        return self

    def get_extra_info(self, info: str) -> Any:
        """What httpcore asks of a connection; "is_readable" on an idle one means the server has closed it.

        The event loop reads the socket as data arrives, so an end of stream may show on the reader or on the
        socket (after an end of stream the loop stops reading, and the socket stays readable).
        """
        if info == "is_readable":
            if self._reader.at_eof() or self._reader.exception() is not None or self._writer.is_closing():
                return True
            sock = self._writer.get_extra_info("socket")
            return sock is None or _socket_readable(sock)
        if info not in _EXTRA or self._writer.is_closing():  # a closed TLS transport cannot answer any more
            return None
        return self._writer.get_extra_info(_EXTRA[info])


def _socket_readable(sock: Any) -> bool:
    """Whether reading `sock` now would not block: data, an end of stream, or an error is waiting."""
    try:
        if hasattr(select, "poll"):
            poller = select.poll()
            poller.register(sock, select.POLLIN)
            return bool(poller.poll(0))
        readable, _, _ = select.select([sock], [], [], 0)
    except (OSError, ValueError):  # closed, or not a socket any more
        return True
    return bool(readable)


class AsyncioBackend(httpcore.AsyncNetworkBackend):
    """Opens `AsyncioStream`s."""

    async def connect_tcp(
        self,
        host: str,
        port: int,
        timeout: float | None = None,
        local_address: str | None = None,
        socket_options: Iterable[SocketOption] | None = None,
    ) -> httpcore.AsyncNetworkStream:
        """Connect to host:port."""
        local = None if local_address is None else (local_address, 0)
        opening = asyncio.open_connection(host, port, local_addr=local, happy_eyeballs_delay=HAPPY_EYEBALLS_DELAY)
        return await _connect(opening, f"{host}:{port}", timeout, socket_options)

    async def connect_unix_socket(
        self, path: str, timeout: float | None = None, socket_options: Iterable[SocketOption] | None = None
    ) -> httpcore.AsyncNetworkStream:
        """Connect to a Unix socket."""
        return await _connect(asyncio.open_unix_connection(path), path, timeout, socket_options)

    async def sleep(self, seconds: float) -> None:
        """Sleep on the event loop."""
        await asyncio.sleep(seconds)


async def _connect(
    opening: Awaitable[tuple[asyncio.StreamReader, asyncio.StreamWriter]],
    where: str,
    timeout: float | None,
    options: Iterable[SocketOption] | None,
) -> AsyncioStream:
    """Await a connection within `timeout`, raising httpcore's errors, and apply the socket options."""
    try:
        async with asyncio.timeout(timeout):
            reader, writer = await opening
    except TimeoutError as exc:
        raise httpcore.ConnectTimeout(f"no connection to {where} within {timeout} s") from exc
    except OSError as exc:
        raise httpcore.ConnectError(str(exc) or type(exc).__name__) from exc
    sock = writer.get_extra_info("socket")
    for option in options or ():
        sock.setsockopt(*option)
    return AsyncioStream(reader, writer)


class AsyncioTransport(httpx.AsyncHTTPTransport):
    """`httpx.AsyncHTTPTransport` (certificate checks, HTTP/1.1, keep-alive) with its pool on `AsyncioBackend`."""

    def __init__(self, limits: httpx.Limits, ssl_context: ssl.SSLContext | None = None) -> None:
        """A pool with these limits; certificates are checked against `ssl_context`, by default httpx's roots."""
        super().__init__(limits=limits)
        self._pool = httpcore.AsyncConnectionPool(
            ssl_context=ssl_context or httpx.create_ssl_context(),
            max_connections=limits.max_connections,
            max_keepalive_connections=limits.max_keepalive_connections,
            keepalive_expiry=limits.keepalive_expiry,
            network_backend=AsyncioBackend(),
        )


def transport_for(url: httpx.URL, limits: httpx.Limits) -> AsyncioTransport | None:
    """The asyncio transport for `url`, or None when the environment routes it through a proxy."""
    proxies = urllib.request.getproxies()
    if (url.scheme in proxies or "all" in proxies) and not urllib.request.proxy_bypass(url.host):
        return None
    return AsyncioTransport(limits)
