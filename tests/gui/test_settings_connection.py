"""Settings and the status bar say the same thing about the connection, and Test connection says it in words."""

from __future__ import annotations

import threading
import time

import keyring
import pytest
from keyring.backend import KeyringBackend

from PySide6.QtCore import QTimer

from app import secrets
from app.domain.secret import Secret
from app.platform.fake.platform import create_fake_platform
from app.platform.fake.server import FakeServer
from tests import inside
from tests.helpers import wait_until
from ui.main_window import SETTINGS


@pytest.mark.slow
async def test_settings_and_the_status_bar_share_one_connection_state(gui_app) -> None:
    fake = create_fake_platform(seed=21, users=3, contacts=8, rate_limit=0)
    server = FakeServer(fake)
    url = server.start_in_thread()
    port = server.port
    try:
        async with gui_app() as app:
            supervisor = await app.open(demo=False, token=Secret(fake.token), api_url=url)
            window = app.window(supervisor)
            window.show_page(SETTINGS)
            panel = window.settings_panel
            await supervisor.start()
            await wait_until(lambda: window.status.chip.text() == "Online", timeout=30)
            assert window.status.connection is panel.connection
            assert "is connected to your respond.io workspace" in panel.mode.text()

            server.stop_thread()
            await inside.sync(supervisor).poller.poll_guarded()
            await wait_until(lambda: window.status.chip.text() == "Offline", timeout=30)
            assert "connected to your" not in panel.mode.text()
            assert panel.mode.text().startswith("Offline")

            server = FakeServer(fake, port=port)
            server.start_in_thread()
            await inside.sync(supervisor).poller.poll_guarded()
            await wait_until(lambda: window.status.chip.text() == "Online", timeout=30)
            assert "is connected to your respond.io workspace" in panel.mode.text()
    finally:
        server.stop_thread()


async def test_test_connection_names_the_url_and_the_cause(gui_app) -> None:
    async with gui_app() as app:
        supervisor = await app.open()
        window = app.window(supervisor)
        panel = window.settings_panel
        panel.token.setText("some-token-1234")
        panel.editors["api_url"].setText("http://127.0.0.1:9/v2")
        assert not await panel.test_connection()
        text = panel.test_result.text()
        assert "Nothing answers at 127.0.0.1:9: is the API URL right?" in text
        assert "Error" not in text  # no exception class names
        panel.editors["api_url"].setText("not a url")
        assert not await panel.test_connection()
        assert "“not a url” is not a web address" in panel.test_result.text()


async def test_a_token_is_tested_before_it_is_saved(gui_app) -> None:
    fake = create_fake_platform(seed=22, users=2, contacts=4, rate_limit=0)
    server = FakeServer(fake)
    url = server.start_in_thread()
    try:
        async with gui_app() as app:
            supervisor = await app.open()
            window = app.window(supervisor)
            panel = window.settings_panel
            panel.editors["api_url"].setText(url)
            panel.token.setText("not-the-token")
            assert await panel.store_token() is None
            assert "refused the token" in panel.test_result.text()
            assert "not saved" in panel.test_result.text()
            assert secrets.load_token() is None

            panel.token.setText(fake.token)
            assert await panel.store_token() is not None
            assert "tested and saved" in panel.test_result.text()
            stored = secrets.load_token()
            assert stored is not None and stored.reveal() == fake.token
            assert panel.token_status.text().startswith(stored.hint)
    finally:
        server.stop_thread()


class SlowKeyring(KeyringBackend):
    """A keyring whose read blocks until released, as a Secret Service unlock prompt does."""

    priority = 1  # type: ignore[assignment]

    def __init__(self) -> None:
        super().__init__()
        self.release = threading.Event()
        self.read_on: list[threading.Thread] = []

    def get_password(self, service: str, username: str) -> str | None:
        self.read_on.append(threading.current_thread())
        self.release.wait(30)
        return "slow-keyring-token-7q2w"

    def set_password(self, service: str, username: str, password: str) -> None:
        raise NotImplementedError

    def delete_password(self, service: str, username: str) -> None:
        raise NotImplementedError


async def test_a_slow_keyring_does_not_freeze_the_window(gui_app) -> None:
    slow = SlowKeyring()
    previous = keyring.get_keyring()
    keyring.set_keyring(slow)
    try:
        async with gui_app() as app:
            supervisor = await app.open()
            window = app.window(supervisor)
            ticks: list[float] = []
            timer = QTimer()
            timer.timeout.connect(lambda: ticks.append(time.monotonic()))
            timer.start(10)
            window.show_page(SETTINGS)  # the page reads the stored token as it shows
            await wait_until(lambda: slow.read_on)
            await wait_until(lambda: len(ticks) >= 5)  # the GUI thread keeps turning while the keyring blocks
            assert window.settings_panel.token_status.text() == "reading the keyring…"
            assert all(thread is not threading.main_thread() for thread in slow.read_on)
            slow.release.set()
            await wait_until(lambda: window.settings_panel.token_status.text().startswith("…7q2w"))
            timer.stop()
    finally:
        slow.release.set()
        keyring.set_keyring(previous)
