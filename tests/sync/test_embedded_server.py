"""The embedded HTTP server binds its own socket, so a port it cannot have is said in words, not by an exit."""

from __future__ import annotations

import socket

import pytest
from starlette.applications import Starlette

from app.domain.errors import ConfigError
from app.sync.embedded_server import EmbeddedServer


async def test_a_port_in_use_is_a_config_error_that_names_it() -> None:
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        server = EmbeddedServer(Starlette(), "127.0.0.1", port)
        with pytest.raises(ConfigError) as caught:
            await server.start()
    assert (
        caught.value.message
        == f"Cannot receive webhooks on 127.0.0.1:{port}: another program is already listening there."
    )
    await server.stop()


async def test_port_0_picks_a_free_port_and_stops_cleanly() -> None:
    server = EmbeddedServer(Starlette(), "127.0.0.1", 0)
    await server.start()
    assert server.port > 0
    with socket.create_connection(("127.0.0.1", server.port), timeout=5):
        pass
    await server.stop()
