"""The fake served by uvicorn on a socket bound here, so `port=0` yields a real port before anything starts.

Used by `closeout-cli fake-platform` (in the main thread, until a signal) and by tests (in a thread).
uvicorn picks httptools and uvloop when they are installed, h11 and asyncio otherwise; its access log is off.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import socket
import threading
from collections.abc import Callable

import uvicorn

from app.platform.fake.app import InjectedReset
from app.platform.fake.platform import FakePlatform


class _QuietDrops(logging.Filter):
    """Hides uvicorn's error report for the connections the "reset" fault drops on purpose."""

    def filter(self, record: logging.LogRecord) -> bool:
        return not (record.exc_info and isinstance(record.exc_info[1], InjectedReset))


_QUIET_DROPS = _QuietDrops()


def quiet_injected_resets() -> None:
    """Keep uvicorn from reporting the "reset" fault's dropped connections as application errors."""
    logger = logging.getLogger("uvicorn.error")
    if _QUIET_DROPS not in logger.filters:
        logger.addFilter(_QUIET_DROPS)


class _Server(uvicorn.Server):
    """A uvicorn server that says when it is listening."""

    def __init__(self, config: uvicorn.Config, on_started: Callable[[], None]) -> None:
        super().__init__(config)
        self._on_started = on_started

    async def startup(self, sockets: list[socket.socket] | None = None) -> None:
        await super().startup(sockets=sockets)
        if not self.should_exit:
            self._on_started()


class FakeServer:
    """A FakePlatform on `host:port`; `url` is the API base URL (ending in `/v2`)."""

    def __init__(self, platform: FakePlatform, host: str = "127.0.0.1", port: int = 0) -> None:
        """Bind the socket now, so the port is known (and taken) before serving starts."""
        self.platform = platform
        family = socket.AF_INET6 if ":" in host else socket.AF_INET
        # With proto 0 asyncio would not set TCP_NODELAY on accepted connections, and Nagle plus delayed ACKs
        # would add 40 ms to every answer written in two parts.
        self._socket = socket.socket(family, socket.SOCK_STREAM, socket.IPPROTO_TCP)
        try:
            self._socket.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
            self._socket.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
            self._socket.bind((host, port))
        except OSError:
            self._socket.close()
            raise
        self.host = host
        self.port: int = self._socket.getsockname()[1]
        config = uvicorn.Config(
            platform.app,
            lifespan="off",
            ws="none",
            log_level="warning",
            access_log=False,
            server_header=False,
            date_header=False,
            timeout_graceful_shutdown=2,
            timeout_keep_alive=30,
        )
        quiet_injected_resets()
        self._started = threading.Event()
        self._on_started: Callable[[], None] | None = None
        self._server = _Server(config, self._mark_started)
        self._thread: threading.Thread | None = None
        self._error: BaseException | None = None

    @property
    def url(self) -> str:
        """The base URL clients use."""
        host = f"[{self.host}]" if ":" in self.host else self.host
        return f"http://{host}:{self.port}/v2"

    @property
    def started(self) -> bool:
        """Whether uvicorn is accepting connections."""
        return self._started.is_set()

    async def serve(self, on_started: Callable[[], None] | None = None) -> None:
        """Start the platform's background work, serve until `request_stop()` or a signal, then stop it all.

        uvicorn catches SIGINT and SIGTERM while serving and re-raises them afterwards; the CLI installs
        its own handlers first so that re-raise ends quietly.
        """
        self._on_started = on_started
        await self.platform.start()
        try:
            await self._server.serve(sockets=[self._socket])
        finally:
            await self.platform.stop()
            self._socket.close()

    def _mark_started(self) -> None:
        self._started.set()
        if self._on_started is not None:
            self._on_started()

    def request_stop(self) -> None:
        """Ask the server to finish; safe from any thread."""
        self._server.should_exit = True

    def start_in_thread(self, timeout: float = 10.0) -> str:
        """Serve from a daemon thread with its own loop; returns the URL once it accepts connections."""

        def run() -> None:
            try:
                asyncio.run(self.serve())
            except BaseException as exc:  # reported by start_in_thread / stop_thread
                self._error = exc
                self._started.set()

        self._thread = threading.Thread(target=run, name=f"fake-platform-{self.port}", daemon=True)
        self._thread.start()
        if not self._started.wait(timeout):
            raise TimeoutError(f"the fake platform did not start within {timeout:g} s")
        if self._error is not None:
            raise RuntimeError("the fake platform failed to start") from self._error
        return self.url

    def stop_thread(self, timeout: float = 10.0) -> None:
        """Stop a server started with `start_in_thread` and wait for its thread."""
        self.request_stop()
        if self._thread is not None:
            self._thread.join(timeout)
            if self._thread.is_alive():
                raise TimeoutError(f"the fake platform did not stop within {timeout:g} s")
            self._thread = None
        with contextlib.suppress(OSError):
            self._socket.close()
        if self._error is not None:
            raise RuntimeError("the fake platform failed while serving") from self._error
