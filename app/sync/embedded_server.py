"""Serving an ASGI app from inside Closeout's own event loop (the webhook receiver)."""

from __future__ import annotations

import asyncio
import contextlib
import errno
import socket
from collections.abc import Generator

import uvicorn
from starlette.types import ASGIApp

from app.domain.errors import ConfigError


class _QuietServer(uvicorn.Server):
    """A uvicorn server that leaves signal handling to the application that embeds it."""

    @contextlib.contextmanager
    def capture_signals(self) -> Generator[None, None, None]:
        """Do not take over SIGINT/SIGTERM: the GUI or the CLI owns them."""
        yield


class EmbeddedServer:
    """Runs an ASGI app on a host and port as a task of the current loop; port 0 picks a free port."""

    def __init__(self, app: ASGIApp, host: str, port: int) -> None:
        """Prepare; nothing listens until `start`."""
        config = uvicorn.Config(app, host=host, port=port, log_level="warning", access_log=False, lifespan="off")
        self._server = _QuietServer(config)
        self._task: asyncio.Task[None] | None = None
        self.host = host
        self.port = port

    async def start(self) -> None:
        """Start listening, and learn the real port; a port that cannot be had raises ConfigError in words.

        The port is tried first with a socket of Closeout's own, because uvicorn reports a failed bind only by
        logging it and exiting the process. uvicorn then binds its own: handing it that socket instead measured
        0.7 s more per webhook (p50) in `benchmarks/engine_throughput.py --e2e`.
        """
        if self.port:
            try:
                family = socket.AF_INET6 if ":" in self.host else socket.AF_INET
                socket.create_server((self.host, self.port), family=family).close()
            except OSError as exc:
                raise ConfigError(_bind_failure(self.host, self.port, exc), "Choose another webhook port.") from None
        self._task = asyncio.create_task(self._server.serve(), name="embedded-http-server")
        while not self._server.started:
            if self._task.done():
                with contextlib.suppress(SystemExit):  # taken between the check and uvicorn's bind
                    self._task.result()
                raise ConfigError(
                    f"Cannot receive webhooks on {self.host}:{self.port}: the port was taken as Closeout started.",
                    "Choose another webhook port.",
                )
            await asyncio.sleep(0.01)
        sockets = self._server.servers[0].sockets
        self.port = int(sockets[0].getsockname()[1])

    async def stop(self) -> None:
        """Stop accepting, let requests in progress finish, and close."""
        if self._task is None:
            return
        self._server.should_exit = True
        await self._task
        self._task = None


def _bind_failure(host: str, port: int, exc: OSError) -> str:
    where = f"{host}:{port}"
    if exc.errno == errno.EADDRINUSE:
        return f"Cannot receive webhooks on {where}: another program is already listening there."
    if exc.errno == errno.EACCES:
        return f"Cannot receive webhooks on {where}: this user may not listen on that port."
    if exc.errno == errno.EADDRNOTAVAIL:
        return f"Cannot receive webhooks on {where}: this computer has no such address."
    return f"Cannot receive webhooks on {where}: {exc.strerror or exc}."
