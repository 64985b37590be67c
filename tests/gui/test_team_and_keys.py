"""The Team page (availability per agent) and the signing keys table in Settings, in the real window."""

from __future__ import annotations

import time

import keyring
import keyring.errors
from pytestqt.modeltest import ModelTester
from pytestqt.qtbot import QtBot

from PySide6.QtCore import QSize, Qt
from PySide6.QtGui import QGuiApplication
from PySide6.QtWidgets import QApplication, QLineEdit

from app import secrets
from app.bootstrap import TeamMember
from app.domain.availability import Availability, Presence, WorkingHours
from app.domain.people import Agent, Team
from app.domain.secret import Secret
from app.domain.signing_keys import SigningKey
from app.domain.workflows import AssignAction, AssignToStep
from app.events import ChangeSet
from app.settings import TIME_ZONE, WEBHOOK_SECRET
from tests import inside
from tests.factories import MAYA, RAVI
from tests.helpers import wait_until
from ui.main_window import SETTINGS, TEAM, first_size
from ui.models import team_model
from ui.models.signing_keys_model import SigningKeysModel
from ui.models.team_model import TeamModel
from ui.widgets.step_editor import AssignStepEditor

ANA = Agent(9, "Ana", "Cruz", "ana@example.com", team=Team(2, "Sales"))


def test_the_team_and_keys_models_pass_the_model_tester(qapp: QApplication, qtmodeltester: ModelTester) -> None:
    team = TeamModel()
    hours = WorkingHours.parse("Mon-Fri 09:00-17:00")
    team.replace_all(
        [
            TeamMember(MAYA, Availability(MAYA.id, Presence.AVAILABLE, hours), True, True),
            TeamMember(RAVI, Availability(RAVI.id), False, False),
        ]
    )
    qtmodeltester.check(team)
    assert team.data(team.index(0, team_model.HOURS)) == "Mon-Fri 09:00-17:00"
    assert team.data(team.index(1, team_model.AVAILABLE)) == "not set"
    assert team.data(team.index(1, team_model.HOURS)) == "any time"
    agent_cell = team.index(0, team_model.AGENT)
    assert team.data(agent_cell, Qt.ItemDataRole.ToolTipRole) == team.data(agent_cell) == f"{MAYA.name} ({MAYA.email})"
    keys = SigningKeysModel()
    keys.replace_all([SigningKey("closed", Secret("secret-key-1234")), SigningKey("opened", Secret("k2"))])
    qtmodeltester.check(keys)
    shown = [keys.data(keys.index(r, c)) for r in range(2) for c in range(3)]
    assert "Conversation Closed" in shown and "…1234" in shown
    assert not any("secret-key" in str(text) for text in shown)


async def test_the_team_page_toggles_availability_and_sets_hours_in_words(qtbot: QtBot, gui_app) -> None:  # type: ignore[no-untyped-def]
    async with gui_app() as app:
        supervisor = await app.open(demo=True)
        await inside.store(supervisor).db.write(inside.store(supervisor).cache.upsert_agents, [MAYA, RAVI, ANA])
        supervisor.bus.publish(ChangeSet(agents_changed=True))
        window = app.window(supervisor)
        window.show_page(TEAM)
        page = window.team_page
        model = page.model
        await wait_until(lambda: model.rowCount() == 3)
        assert "does not share who is online" in page.explainer.text()
        names = [model.member_at(r).agent.name for r in range(3)]
        assert names == ["Ana Cruz", "Maya Lee", "Ravi Shah"]
        assert {model.data(model.index(r, team_model.AVAILABLE)) for r in range(3)} == {"not set"}

        # The lead ticks Maya's toggle, as a click on the check box does.
        maya = names.index("Maya Lee")
        assert model.setData(
            model.index(maya, team_model.AVAILABLE), Qt.CheckState.Checked, Qt.ItemDataRole.CheckStateRole
        )
        await wait_until(lambda: model.data(model.index(maya, team_model.AVAILABLE)) == "available")
        assert model.data(model.index(maya, team_model.NOW)) == "available now"
        assert (await supervisor.team_service.availability_book()).of(MAYA.id).presence is Presence.AVAILABLE
        assert "Saved: Maya Lee is available" in page.message.text()

        # Working hours typed into the cell are saved; a typo is refused in words and nothing changes.
        model.setData(model.index(maya, team_model.HOURS), "mon-fri 9:00-17:00")
        await wait_until(lambda: model.data(model.index(maya, team_model.HOURS)) == "Mon-Fri 09:00-17:00")
        model.setData(model.index(maya, team_model.HOURS), "nine to five")
        await wait_until(lambda: page.message.text().startswith("Not saved"))
        assert 'like "Mon-Fri 09:00-17:00"' in page.message.text()
        assert (await supervisor.team_service.availability_book()).of(MAYA.id).hours == WorkingHours.parse(
            "Mon-Fri 09:00-17:00"
        )

        # Unticking makes her away; the hours stay.
        model.setData(model.index(maya, team_model.AVAILABLE), Qt.CheckState.Unchecked, Qt.ItemDataRole.CheckStateRole)
        await wait_until(lambda: model.data(model.index(maya, team_model.AVAILABLE)) == "away")
        entry = (await supervisor.team_service.availability_book()).of(MAYA.id)
        assert entry.presence is Presence.AWAY and entry.hours is not None


async def test_the_settings_keys_table_adds_and_removes_keys_and_copies_the_url(qtbot: QtBot, gui_app) -> None:  # type: ignore[no-untyped-def]
    async with gui_app() as app:
        supervisor = await app.open(demo=True, webhook_port=0)
        await supervisor.start(poll=False, drain=False)
        window = app.window(supervisor)
        window.show_page(SETTINGS)
        box = window.settings_panel.signing_keys
        await wait_until(lambda: "No key yet for" in box.message.text())
        assert box.url.text().startswith("http://127.0.0.1:") and box.url.text().endswith("/webhook")
        assert box.url.text() == supervisor.credential_service.webhook_url
        qtbot.mouseClick(box.copy, Qt.MouseButton.LeftButton)
        assert QGuiApplication.clipboard().text() == box.url.text()

        box.label.setCurrentText("closed")
        box.key.setText("closed-signing-key-9876")
        qtbot.mouseClick(box.add, Qt.MouseButton.LeftButton)
        await wait_until(lambda: box.model.rowCount() == 1)
        assert "Added the 'closed' key" in box.message.text() and box.key.text() == ""
        assert "are accepted now" in box.message.text()
        assert secrets.load_webhook_keys() == [SigningKey("closed", Secret("closed-signing-key-9876"))]
        assert [k.label for k in inside.sync(supervisor).webhook_keys] == ["closed"]
        assert box.model.data(box.model.index(0, 2)) == "…9876"
        # The table is the one place for keys: no second field that would put one in the settings file.
        assert WEBHOOK_SECRET.key not in window.settings_panel.editors

        box.label.setCurrentText("two words")
        box.key.setText("k")
        qtbot.mouseClick(box.add, Qt.MouseButton.LeftButton)
        await wait_until(lambda: box.message.text().startswith("Not added"))
        assert box.model.rowCount() == 1

        box.table.selectRow(0)
        qtbot.mouseClick(box.remove, Qt.MouseButton.LeftButton)
        await wait_until(lambda: box.model.rowCount() == 0)
        assert secrets.load_webhook_keys() == [] and inside.sync(supervisor).webhook_keys == ()


def test_the_assign_editor_says_where_online_comes_from(qapp: QApplication) -> None:
    editor = AssignStepEditor([(MAYA.id, MAYA.name)], [(1, "Support")])
    editor.set_step(AssignToStep(AssignAction.TEAM_USER, team_id=1, only_online=True))
    editor.show()
    assert editor.online_note.isVisible()
    assert "marked available on the Team page" in editor.online_note.text()
    assert editor.only_online.toolTip() == editor.online_note.text()
    editor.only_online.setChecked(False)
    assert not editor.online_note.isVisible()
    editor.close()


async def test_settings_refuse_a_time_zone_nobody_knows_in_words(qtbot: QtBot, gui_app) -> None:  # type: ignore[no-untyped-def]
    async with gui_app() as app:
        supervisor = await app.open(demo=True)
        window = app.window(supervisor)
        window.show_page(SETTINGS)
        panel = window.settings_panel
        zone = panel.editors[TIME_ZONE.key]
        assert isinstance(zone, QLineEdit)
        zone.setText("Europe/Atlantis")
        assert panel.save_settings() is False
        assert "not a time zone this computer knows" in panel.saved.text()
        zone.setText("Asia/Tokyo")
        assert panel.save_settings() is True
        assert supervisor.settings.get(TIME_ZONE) == "Asia/Tokyo"


def test_a_first_start_fits_a_1366_by_768_screen() -> None:
    # The Team page and Settings say what happened on a line at the bottom: it must be on the screen.
    assert first_size(QSize(1366, 768)) == QSize(1280, 728)
    assert first_size(QSize(1920, 1050)) == QSize(1280, 800)
    assert first_size(None) == QSize(1280, 800)


async def test_every_team_column_fits_a_1024_pixel_window(gui_app) -> None:  # type: ignore[no-untyped-def]
    async with gui_app() as app:
        supervisor = await app.open(demo=True)
        await inside.store(supervisor).db.write(inside.store(supervisor).cache.upsert_agents, [MAYA, RAVI, ANA])
        window = app.window(supervisor)
        window.resize(1024, 700)
        window.show_page(TEAM)
        page = window.team_page
        await wait_until(lambda: page.model.rowCount() == 3)
        await wait_until(lambda: page.table.viewport().width() < 1024)
        header = page.table.horizontalHeader()
        shown = sum(header.sectionSize(c) for c in range(len(team_model.COLUMNS)))
        assert shown <= page.table.viewport().width()
        assert page.table.horizontalScrollBar().maximum() == 0
        assert header.sectionSize(team_model.AGENT) >= 250  # room for "Name (email)"


async def _settings_keys(app):  # type: ignore[no-untyped-def]
    """A demo window on Settings, once its signing-keys box has read the (empty) stored keys."""
    window = app.window(await app.open(demo=True))
    window.show_page(SETTINGS)
    box = window.settings_panel.signing_keys
    await wait_until(lambda: "No key yet for" in box.message.text())
    return window, box


async def test_a_key_added_while_the_receiver_is_off_does_not_claim_to_be_in_use(gui_app) -> None:  # type: ignore[no-untyped-def]
    async with gui_app() as app:
        _, box = await _settings_keys(app)
        assert box.url.text() == "" and "receiver is off" in box.url.placeholderText()
        box.key.setText("closed-signing-key-5555")
        assert await box.add_key()
        assert "will be accepted once the receiver runs" in box.message.text()


async def test_a_key_that_cannot_be_removed_says_so_and_stays_listed(gui_app, monkeypatch) -> None:  # type: ignore[no-untyped-def]
    async with gui_app() as app:
        _, box = await _settings_keys(app)
        box.key.setText("closed-signing-key-5555")
        assert await box.add_key()

        # The keyring refuses the write, and the private file it falls back to is on a full disk.
        def refused(*_: object) -> None:
            raise keyring.errors.PasswordSetError("locked")

        def disk_full(*_: object) -> None:
            raise OSError(28, "No space left on device")

        monkeypatch.setattr(keyring, "set_password", refused)
        monkeypatch.setattr(secrets, "_write_private", disk_full)
        box.table.selectRow(0)
        assert await box.remove_selected() is False
        assert box.message.text() == "Not removed: the keys could not be stored (No space left on device)."
        assert box.model.rowCount() == 1


async def test_keys_stored_from_the_command_line_show_when_settings_open_again(gui_app) -> None:  # type: ignore[no-untyped-def]
    async with gui_app() as app:
        window, box = await _settings_keys(app)
        window.show_page(TEAM)
        secrets.add_webhook_key(SigningKey("opened", Secret("stored-by-the-cli-2468")))  # as `webhook-keys add` does
        window.show_page(SETTINGS)
        await wait_until(lambda: box.model.rowCount() == 1)
        assert box.model.data(box.model.index(0, 2)) == "…2468"


async def test_clearing_the_hours_of_an_agent_never_set_does_not_make_them_available(gui_app) -> None:  # type: ignore[no-untyped-def]
    async with gui_app() as app:
        supervisor = await app.open(demo=True)
        await inside.store(supervisor).db.write(inside.store(supervisor).cache.upsert_agents, [MAYA, RAVI, ANA])
        window = app.window(supervisor)
        window.show_page(TEAM)
        page, model = window.team_page, window.team_page.model
        await wait_until(lambda: model.rowCount() == 3)
        ravi = next(r for r in range(3) if model.member_at(r).agent.id == RAVI.id)
        # The lead double-clicks Ravi's empty hours and presses Enter.
        model.setData(model.index(ravi, team_model.HOURS), "")
        await wait_until(lambda: page.message.text().startswith("Saved"))
        assert not (await supervisor.team_service.availability_book()).is_available(RAVI.id, time.time())
        assert model.data(model.index(ravi, team_model.NOW)) == "not now"
        assert model.data(model.index(ravi, team_model.AVAILABLE)) == "away"
