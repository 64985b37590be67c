"""History and run log as a lead reviews them: Reset filters, empty states, whole-number ticks, seven days in seven."""

from __future__ import annotations

import asyncio
import dataclasses

import pytest

from PySide6.QtCore import QPointF

from app.domain.history import ChangeSource
from tests.helpers import wait_until
from ui import formatting
from ui.main_window import HISTORY, RUN_LOG
from ui.widgets import history_panel
from ui.widgets.charts import tick_step


async def history_shown(app):
    """A started demo with its History page shown and loaded."""
    supervisor = await app.open(demo=True)
    window = app.window(supervisor)
    await supervisor.start()
    window.show_page(HISTORY)
    history = window.history
    await wait_until(lambda: history.model.rowCount() > 0 and not history.model.loading, timeout=30)
    return supervisor, window, history


def test_ticks_are_whole_round_steps() -> None:
    assert tick_step(3) == 1
    assert tick_step(0) == 1
    assert tick_step(14) == 5
    assert tick_step(230) == 50
    assert all(isinstance(tick_step(n), int) for n in (1, 7, 99, 12345))


async def test_reset_filters_empty_state_and_a_week_of_days(gui_app) -> None:
    async with gui_app() as app:
        _, window, history = await history_shown(app)
        assert not history.empty.isVisible()
        await wait_until(lambda: history._charts is not None and history._charts[0].totals, timeout=30)
        per_day = history._charts[0]
        assert len(per_day.totals) == 7  # "Last 7 days" shows seven days, the quiet ones too

        history.source.setCurrentIndex(history.source.findData(ChangeSource.UNDO))
        await wait_until(lambda: history.model.rowCount() == 0 and not history.model.loading, timeout=30)
        assert history.empty.isVisible() and "Reset filters" in history.empty.text()
        history.reset.click()
        assert history.source.currentIndex() == 0
        await wait_until(lambda: history.model.rowCount() > 0 and not history.model.loading, timeout=30)
        assert not history.empty.isVisible()

        window.show_page(RUN_LOG)
        log = window.run_log
        await wait_until(lambda: log.model.rowCount() > 0, timeout=30)
        log.outcome.setCurrentIndex(log.outcome.count() - 1)
        log.reset.click()
        assert log.outcome.currentIndex() == 0 and log.workflow.currentIndex() == 0


def test_workflows_with_one_name_are_told_apart() -> None:
    from app.domain.workflows import Trigger, TriggerKind, Workflow

    base = Workflow("Unassign", Trigger(TriggerKind.CONVERSATION_CLOSED), id=1, version=2)
    labels = formatting.workflow_labels(
        [base, dataclasses.replace(base, id=2, version=1), dataclasses.replace(base, id=3, name="Other")]
    )
    assert labels == {1: "Unassign (#1, v2)", 2: "Unassign (#2, v1)", 3: "Other"}


async def test_a_dry_run_speaks_one_language_and_refuses_an_opened_trigger(gui_app) -> None:
    import time

    import pytest

    from app.domain.errors import WorkflowError
    from app.domain.workflows import RunOutcome
    from ui.dialogs.dry_run_dialog import DryRunDialog
    from ui.models import dry_run_model

    async with gui_app() as app:
        supervisor = await app.open(demo=True)
        await supervisor.start(poll=False, drain=False)
        unassign = next(
            w for w in await supervisor.workflow_service.workflows() if w.template_id == "unassign-after-close"
        )
        report = await supervisor.workflow_service.dry_run(unassign, time.time() - 7 * 86_400)
        assert report.rows  # the demo's seeded past gives the dry run something to replay at once
        dialog = DryRunDialog(report, "the last 7 days")
        texts = {
            dialog.model.data(dialog.model.index(r, dry_run_model.OUTCOME))
            for r in range(dialog.model.rowCount())
            if dialog.model._rows[r].outcome is RunOutcome.DONE
        }
        assert texts == {"would run"}
        dialog.deleteLater()
        opened = (await supervisor.workflow_service.use_template("round-robin-online")).result
        with pytest.raises(WorkflowError, match="Conversation Closed workflows only"):
            await supervisor.workflow_service.dry_run(opened, time.time() - 7 * 86_400)


async def test_the_contact_filter_finds_by_name_phone_or_email(gui_app) -> None:
    async with gui_app() as app:
        supervisor, _, history = await history_shown(app)
        contact = None
        for entry in history.model.rows():  # a contact whose name no other has (the demo has namesakes)
            candidate = (await supervisor.history_service.find_contacts(str(entry.change.contact_id)))[0]
            if len(await supervisor.history_service.find_contacts(candidate.name)) == 1:
                contact = candidate
                break
        assert contact is not None
        history.contact.setText(contact.name.upper())  # any case
        await wait_until(lambda: history.filter.contact_id == contact.id, timeout=30)
        await wait_until(lambda: history.model.rowCount() > 0 and not history.model.loading, timeout=30)
        assert {e.change.contact_id for e in history.model.rows()} == {contact.id}
        if contact.email:
            history.contact.setText(contact.email)
            await wait_until(lambda: history.contact.toolTip().startswith(contact.name), timeout=30)
        history.contact.setText("zz-no-such-contact")
        await wait_until(lambda: "No contact" in history.contact.toolTip(), timeout=30)
        assert history.contact.property("needsInput") is True


async def test_a_team_shows_the_changes_from_or_to_its_members_and_reset_clears_it(gui_app) -> None:
    async with gui_app() as app:
        supervisor, _, history = await history_shown(app)
        await wait_until(lambda: history.team.count() > 1, timeout=30)
        teams = dict((team.id, members) for team, members in await supervisor.history_service.teams())
        biggest = max(teams, key=lambda t: len(teams[t]))
        everyone = history.count_value
        history.team.setCurrentIndex(history.team.findData(biggest))
        await wait_until(lambda: history.filter.agent_ids == teams[biggest], timeout=30)
        await wait_until(lambda: history.model.rowCount() > 0 and not history.model.loading, timeout=30)
        members = set(teams[biggest])
        rows = [entry.change for entry in history.model.rows()]
        assert all({row.from_agent_id, row.to_agent_id} & members for row in rows)
        await wait_until(lambda: history.count_value is not None and history.count_value < (everyone or 0), timeout=30)
        history.reset.click()
        await wait_until(lambda: history.filter.agent_ids is None and history.team.currentIndex() == 0, timeout=30)


async def test_a_name_several_contacts_share_shows_all_of_them_and_a_conversation_is_found_by_name(
    gui_app, monkeypatch: pytest.MonkeyPatch
) -> None:
    async with gui_app() as app:
        supervisor, _, history = await history_shown(app)
        shared, found = "", []
        for entry in history.model.rows():
            first = (await supervisor.history_service.find_contacts(str(entry.change.contact_id)))[0].first_name
            found = await supervisor.history_service.find_contacts(first, 100)
            if len(found) > 1:
                shared = first
                break
        assert shared, "the demo has contacts sharing a first name"
        history.contact.setText(shared.lower())
        await wait_until(lambda: history.filter.contact_ids is not None, timeout=30)
        assert set(history.filter.contact_ids or ()) == {c.id for c in found}
        assert history.contact.toolTip().startswith(f"{len(found)} contacts match")
        await wait_until(lambda: not history.model.loading, timeout=30)
        assert {e.change.contact_id for e in history.model.rows()} <= {c.id for c in found}
        assert history.model.rowCount() > 0

        history.reset.click()
        await wait_until(lambda: history.model.rowCount() > 0 and not history.model.loading, timeout=30)
        entry = next(e for e in history.model.rows() if e.change.conversation_id is not None)
        contact = (await supervisor.history_service.find_contacts(str(entry.change.contact_id)))[0]
        text = contact.email or contact.name
        closes = await supervisor.history_service.find_conversations(text)
        assert entry.change.conversation_id in {c.id for c in closes}
        history.conversation.setText(text)
        await wait_until(lambda: history.filter.conversation_ids is not None, timeout=30)
        assert set(history.filter.conversation_ids or ()) == {c.id for c in closes}
        await wait_until(lambda: history.model.rowCount() > 0 and not history.model.loading, timeout=30)
        assert {e.change.conversation_id for e in history.model.rows()} <= {c.id for c in closes}
        assert history.conversation.toolTip().startswith(f"{len(closes)} conversations of")

        # A contact with more closes than the filter takes says that only the newest are shown.
        monkeypatch.setattr(history_panel, "FILTER_CONVERSATIONS", len(closes))
        history.conversation.setText(text.upper())  # another text for the same contact: looked up again
        await wait_until(lambda: history.conversation.toolTip().startswith("The newest"), timeout=30)
        assert history.conversation.toolTip().startswith(f"The newest {len(closes)} conversations of")


async def test_the_per_day_legend_sits_above_the_bars_not_on_them(qapp) -> None:
    """The tallest day is the newest, under the legend's corner: the legend must not hide it."""
    from ui.widgets.charts import PerDayChart

    day = 1_795_000_000
    rows = [(day + k * 86_400, "workflow", 10 + 5 * k) for k in range(7)]
    rows += [(day + 6 * 86_400, "platform", 30), (day + 6 * 86_400, "undo", 2)]
    chart = PerDayChart()
    try:
        chart.resize(480, 180)
        chart.show()
        chart.set_data(rows, 7)
        await wait_until(lambda: chart.legend.sceneBoundingRect().height() > 0)
        await asyncio.sleep(0.05)  # let pyqtgraph lay out the legend and the view box once
        legend = chart.legend.sceneBoundingRect()
        view = chart.plot.getViewBox()
        tallest = view.mapViewToScene(QPointF(6, 72)).y()  # the top of the newest day's stack
        assert legend.bottom() <= tallest, (legend, tallest)
    finally:
        chart.deleteLater()
