"""A real loopback fake platform: the status bar follows it offline and back, and a refused token asks for Settings."""

from __future__ import annotations

import httpx
import pytest
from pytestqt.qtbot import QtBot

from PySide6.QtCore import Qt

from app import secrets
from app.domain.secret import Secret
from app.platform.fake.platform import create_fake_platform
from app.platform.fake.server import FakeServer
from app.platform.webhooks import SIGNATURE_HEADER, sign
from tests.helpers import wait_until
from ui.main_window import QUEUE, SETTINGS

WEBHOOK_KEY = "gui-test-key"


def statuses(window, contact_ids: set[int] | None = None) -> dict[int, str]:
    """The queue's outcome chips by close id, optionally only for closes of these contacts."""
    model = window.live_queue.model
    rows = (model.row_at(r) for r in range(model.rowCount()))
    return {row.close.id: row.status for row in rows if contact_ids is None or row.close.contact.id in contact_ids}


@pytest.mark.slow
async def test_offline_keeps_rows_pending_and_drains_when_the_platform_is_back(gui_app) -> None:
    fake = create_fake_platform(seed=11, users=4, contacts=30, rate_limit=0)
    server = FakeServer(fake)
    url = server.start_in_thread()
    port = server.port
    bodies: list[bytes] = []
    fake.add_listener(bodies.append)
    try:
        async with gui_app() as app:
            supervisor = await app.open(
                demo=False, token=Secret(fake.token), api_url=url, webhook_port=0, webhook_secret=WEBHOOK_KEY
            )
            draft = (await supervisor.workflow_service.use_template("unassign-after-close")).result
            assert draft.id is not None
            await supervisor.workflow_service.publish(draft.id)
            window = app.window(supervisor)
            window.show_page(QUEUE)
            await supervisor.start()
            await wait_until(lambda: window.status.chip.text() == "Online", timeout=30)
            # Let the first poll finish: otherwise it runs after the restart and queues the closes it catches up on.
            await wait_until(lambda: supervisor.connection_service.has_polled, timeout=30)

            server.stop_thread()
            # Closes keep arriving by webhook (through the lead's tunnel) while the platform is unreachable.
            contacts = [c for c in fake.state.contacts.values() if c.assignee_id is not None and c.status == "open"][:3]
            for contact in contacts:
                fake.state.close_conversation(contact, "user", fake.state.users[contact.assignee_id], "Resolved", "")
            assert len(bodies) >= len(contacts)
            receiver = supervisor.credential_service.webhook_url
            assert receiver is not None
            async with httpx.AsyncClient() as client:
                for body in bodies:
                    answer = await client.post(
                        receiver, content=body, headers={SIGNATURE_HEADER: sign(WEBHOOK_KEY, body)}
                    )
                    assert answer.status_code < 300
            closed = {c.id for c in contacts}
            await wait_until(
                lambda: sum(1 for s in statuses(window, closed).values() if s == "pending") >= 3, timeout=30
            )
            await wait_until(lambda: window.status.chip.text() == "Offline", timeout=45)
            assert any(n.key == "connectivity" and "Offline" in n.text for n in window.notifications.notices())
            assert all(s == "pending" for s in statuses(window, closed).values())

            server = FakeServer(fake, port=port)
            server.start_in_thread()
            await wait_until(lambda: window.status.chip.text() == "Online", timeout=45)
            await wait_until(lambda: sorted(statuses(window, closed).values()) == ["unassigned"] * 3, timeout=45)
            assert all(fake.state.contacts[c.id].assignee_id is None for c in contacts)
    finally:
        server.stop_thread()


@pytest.mark.slow
async def test_a_refused_token_says_token_rejected_and_offers_settings(qtbot: QtBot, gui_app) -> None:
    fake = create_fake_platform(seed=12, users=3, contacts=10, rate_limit=0)
    server = FakeServer(fake)
    url = server.start_in_thread()
    try:
        async with gui_app() as app:
            supervisor = await app.open(demo=False, token=Secret("not-the-token"), api_url=url)
            window = app.window(supervisor)
            await supervisor.start()
            await wait_until(lambda: window.status.chip.text() == "Token rejected", timeout=30)
            await wait_until(lambda: window.notifications.frames(), timeout=30)
            frame = next(f for f in window.notifications.frames() if f.notice.key == "connectivity")
            assert "Token rejected" in frame.notice.text and "Settings" in frame.notice.text
            assert frame.action_button is not None and frame.action_button.text() == "Open Settings"
            assert window.settings_panel.token_status.text() == ""  # the keyring is read when the page shows
            secrets.store_token(Secret("stored-in-the-keyring-9f3k"))
            qtbot.mouseClick(frame.action_button, Qt.MouseButton.LeftButton)
            assert window.current_page == SETTINGS
            await wait_until(lambda: window.settings_panel.token_status.text().startswith("…9f3k"))

            # The Settings page's Test connection says what is wrong in words.
            window.settings_panel.token.setText("still-wrong")
            window.settings_panel.editors["api_url"].setText(url)
            assert not await window.settings_panel.test_connection()
            assert "token" in window.settings_panel.test_result.text().lower()
            window.settings_panel.token.setText(fake.token)
            assert await window.settings_panel.test_connection()
    finally:
        server.stop_thread()
