"""The demo starts with a month of past history, and a restart records no close a second time."""

from __future__ import annotations

import asyncio
import datetime as dt
from pathlib import Path

import pytest

from app.bootstrap import Supervisor, TeamMember
from app.domain.availability import Presence
from app.domain.conversations import ClosedBySource
from app.domain.history import HistoryFilter
from tests import inside
from tests.helpers import wait_until


@pytest.mark.slow
async def test_a_first_demo_run_has_thirty_days_of_history_and_a_restart_adds_no_poll_closes(
    gui_app, tmp_path: Path
) -> None:
    db_url = f"sqlite:///{tmp_path / 'demo.sqlite3'}"
    async with gui_app() as app:
        first = await app.open(demo=True, rate=600.0, poll_seconds=3600.0, db_url=db_url)
        await first.start()
        history = await first.history_service.history_page(HistoryFilter(), None, 5000)
        days = {dt.date.fromtimestamp(row.at) for row in history.rows}
        assert len(days) >= 28
        assert min(days) <= dt.date.today() - dt.timedelta(days=29)
        old_closes = await inside.store(first).db.read(inside.store(first).closes.between, 0, int(first_day_end()))
        assert len(old_closes) >= 300
        await wait_until(lambda: first.connection_service.has_polled, timeout=30)
        await first.close()
        app.supervisors.remove(first)

        second = await app.open(demo=True, rate=0.0, poll_seconds=3600.0, db_url=db_url)
        before = await second.queue_service.queue(1)
        top = before[0].close.id if before else 0
        await second.start()
        await wait_until(lambda: second.connection_service.has_polled, timeout=30)
        newer = [row for row in await second.queue_service.queue(500) if (row.close.id or 0) > (top or 0)]
        assert not [row for row in newer if row.close.closed_by_source is ClosedBySource.DETECTED_BY_POLL]
        # Seeding happens once: the past is not recorded again.
        again = await inside.store(second).db.read(inside.store(second).closes.between, 0, int(first_day_end()))
        assert len(again) == len(old_closes)


async def _team_once_listed(supervisor: Supervisor) -> list[TeamMember]:
    """The Team page's rows once the first sync has listed the workspace's users."""
    while not (team := await supervisor.team_service.team()):
        await asyncio.sleep(0.05)
    return team


def first_day_end() -> float:
    today = dt.datetime.combine(dt.date.today(), dt.time())
    return today.timestamp()


async def test_a_first_demo_run_has_agents_available_and_away_and_a_restart_keeps_the_leads_changes(
    gui_app, tmp_path: Path
) -> None:
    """The Team page and "only online users" mean something at once; what the lead sets then is never reseeded."""
    db_url = f"sqlite:///{tmp_path / 'demo.sqlite3'}"
    async with gui_app() as app:
        first = await app.open(demo=True, rate=0.0, db_url=db_url)
        await first.start()
        listed = asyncio.get_running_loop().create_task(_team_once_listed(first))
        await wait_until(listed.done, timeout=30)
        team = listed.result()
        agents = [m for m in team if m.agent.role != "owner"]
        assert agents, "the demo lists its agents"
        available_now = [m for m in agents if m.available_now]
        away = [m for m in agents if m.availability.presence is Presence.AWAY]
        on_shifts = [m for m in agents if m.availability.hours is not None]
        assert len(available_now) >= len(agents) // 3, [m.agent.name for m in available_now]
        assert away and on_shifts
        chosen = available_now[0].agent.id
        await first.team_service.set_presence(chosen, Presence.AWAY)
        await first.close()
        app.supervisors.remove(first)

        second = await app.open(demo=True, rate=0.0, db_url=db_url)
        await second.start()
        book = await second.team_service.availability_book()
        assert book.of(chosen).presence is Presence.AWAY
        assert sum(1 for m in await second.team_service.team() if m.available_now) == len(available_now) - 1
