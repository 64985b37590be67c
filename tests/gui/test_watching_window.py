"""A window on a shared database (SQLite or PostgreSQL) another process sends for says so in its status bar."""

from __future__ import annotations

import os

import pytest

from app.domain.secret import Secret
from app.platform.fake.platform import create_fake_platform
from app.platform.fake.server import FakeServer
from tests import inside
from tests.helpers import wait_until


@pytest.mark.slow
async def test_the_status_bar_names_the_process_that_sends(gui_app, db_url: str) -> None:
    fake = create_fake_platform(seed=5, users=4, contacts=20, rate_limit=0)
    server = FakeServer(fake)
    url = server.start_in_thread()
    try:
        async with gui_app() as app:
            shared = db_url  # a SQLite file, or one shared PostgreSQL
            runner = await app.open(demo=False, token=Secret(fake.token), api_url=url, db_url=shared)
            await runner.start()
            await wait_until(lambda: inside.sync(runner).is_runner, timeout=10)
            watcher = await app.open(demo=False, token=Secret(fake.token), api_url=url, db_url=shared)
            window = app.window(watcher)
            await watcher.start()

            expected = f"Another Closeout on this computer is sending: pid {os.getpid()}"
            await wait_until(lambda: window.status.chip.text() == expected, timeout=10)
            assert not inside.sync(watcher).is_runner
            await runner.close()  # the runner ends: the watcher takes over and says it is online itself
            app.supervisors.remove(runner)
            await wait_until(lambda: window.status.chip.text() == "Online", timeout=30)
    finally:
        server.stop_thread()
