"""Settings → Database against the run's real PostgreSQL server: Test says in words what it found."""

from __future__ import annotations

import pytest
from pytestqt.qtbot import QtBot
from sqlalchemy.engine import make_url

from PySide6.QtCore import Qt
from PySide6.QtWidgets import QLineEdit

from app.events import EventBus
from app.services.core import Core
from app.services.credentials import CredentialService
from app.settings import Settings
from tests.helpers import wait_until
from tests.pg import PgServer
from ui.widgets.database_box import LOCAL_WORDS, RESTART_WORDS, DatabaseBox

pytestmark = pytest.mark.postgres


@pytest.fixture
def box(qtbot: QtBot) -> DatabaseBox:
    credentials = CredentialService(Core(Settings(), EventBus(), demo=True, token=None, api_url=None))
    made = DatabaseBox(QLineEdit(), credentials)
    qtbot.addWidget(made)
    made.show()
    return made


def _choose_shared(box: DatabaseBox, qtbot: QtBot, url: str) -> None:
    box.shared.click()  # the settings page may be hidden behind another: a click there cannot land
    assert box.shared.isChecked() and not box.url.isReadOnly()
    box.url.setText(url)


async def test_the_right_url_connects_and_says_it_takes_effect_on_restart(
    box: DatabaseBox, qtbot: QtBot, pg_server: PgServer
) -> None:
    assert box.local.isChecked() and box.url.text() == ""
    url = pg_server.new_database()
    _choose_shared(box, qtbot, url)
    qtbot.mouseClick(box.test, Qt.MouseButton.LeftButton)
    await wait_until(lambda: box.result.text().startswith("Connected to"), timeout=15)
    assert make_url(url).database in box.result.text()
    assert RESTART_WORDS in box.result.text()


async def test_a_wrong_password_is_said_in_words(box: DatabaseBox, qtbot: QtBot, pg_server: PgServer) -> None:
    url = make_url(pg_server.new_database()).set(password="not-the-password")
    _choose_shared(box, qtbot, url.render_as_string(hide_password=False))
    assert not await box.run_test()
    assert "refused the password for the user" in box.result.text()
    assert box.test.isEnabled()


async def test_this_computer_needs_no_url_and_keeps_the_shared_one_while_switching(
    box: DatabaseBox, qtbot: QtBot, pg_server: PgServer
) -> None:
    url = pg_server.new_database()
    _choose_shared(box, qtbot, url)
    qtbot.mouseClick(box.local, Qt.MouseButton.LeftButton)
    assert box.url.text() == "" and box.url.isReadOnly()
    assert await box.run_test()
    assert box.result.text() == LOCAL_WORDS
    qtbot.mouseClick(box.shared, Qt.MouseButton.LeftButton)
    assert box.url.text() == url


async def test_the_settings_page_saves_the_shared_url_for_the_next_start(
    gui_app, qtbot: QtBot, pg_server: PgServer
) -> None:
    from app.settings import DB_URL

    async with gui_app() as app:
        supervisor = await app.open()
        panel = app.window(supervisor).settings_panel
        box = panel.database
        assert box.isVisibleTo(panel) and not panel.editors[DB_URL.key].isHidden()
        url = pg_server.new_database()
        _choose_shared(box, qtbot, url)
        assert await box.run_test()
        assert panel.save_settings()
        assert "Restart Closeout" in panel.saved.text()
        assert supervisor.settings.get(DB_URL) == url
