"""The history view on a million rows: filters and keyset paging give exactly the rows SQL says they should."""

from __future__ import annotations

import datetime as dt
import sqlite3
from pathlib import Path

import pytest

from app.domain.history import ChangeSource, SyncState
from app.domain.secret import Secret
from tests.gui import million
from tests.helpers import wait_until
from ui.bridge import Bridge
from ui.widgets.history_panel import HistoryPanel, preset_range
from ui.widgets.notifications import Notifier


@pytest.fixture(scope="module")
def million_db(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, float]:
    path = tmp_path_factory.mktemp("million") / "history.sqlite3"
    return path, million.build(path)


def expected(path: Path, where: str, args: tuple[object, ...], limit: int) -> tuple[list[int], int]:
    with sqlite3.connect(path) as connection:
        ids = [
            i
            for (i,) in connection.execute(
                f"SELECT id FROM changes WHERE {where} ORDER BY at DESC, id DESC LIMIT {limit}", args
            )
        ]
        (count,) = connection.execute(f"SELECT count(*) FROM changes WHERE {where}", args).fetchone()
    return ids, count


def shown_ids(panel: HistoryPanel) -> list[int]:
    return [entry.change.id for entry in panel.model.rows()]


async def load_pages(panel: HistoryPanel, pages: int) -> None:
    await wait_until(lambda: panel.model.rowCount() > 0, timeout=30)
    await panel.model.wait_idle()
    for _ in range(pages - 1):
        await panel.model.load_next()
    await wait_until(lambda: panel.count_value is not None, timeout=30)


@pytest.mark.slow
async def test_filters_and_paging_match_sql_on_a_million_rows(gui_app, million_db: tuple[Path, float]) -> None:
    path, anchor = million_db
    with sqlite3.connect(path) as connection:
        assert connection.execute("SELECT count(*) FROM changes").fetchone() == (million.ROWS,)
        first = connection.execute(
            "SELECT contact_id, from_agent_id, to_agent_id, source, sync_state FROM changes ORDER BY id LIMIT 50"
        ).fetchall()
    assert first == [
        (c.contact_id, c.from_agent_id, c.to_agent_id, c.source.value, c.sync_state.value)
        for _, c in zip(range(50), million.changes(million.ROWS, anchor), strict=False)
    ]

    async with gui_app() as app:
        supervisor = await app.open(
            demo=False, token=Secret("never-sent"), api_url="http://127.0.0.1:9/v2", db_url=f"sqlite:///{path}"
        )
        panel = HistoryPanel(supervisor.history_service, Bridge(supervisor.bus), Notifier())
        try:
            panel.resize(1200, 800)
            panel.show()  # opens on the default preset (last 7 days)
            await load_pages(panel, 1)
            since, _ = preset_range("Last 7 days", dt.date.today())
            ids, count = expected(path, "at >= ?", (since,), 200)
            assert shown_ids(panel) == ids and panel.count_value == count and count > 100_000

            # Agent + source over the last 30 days, three pages deep.
            panel.preset.setCurrentText("Last 30 days")
            panel.source.setCurrentIndex(panel.source.findData(ChangeSource.WORKFLOW))
            panel.agent.setCurrentIndex(panel.agent.findData(5))
            await load_pages(panel, 3)
            since, _ = preset_range("Last 30 days", dt.date.today())
            ids, count = expected(
                path, "at >= ? AND (from_agent_id = 5 OR to_agent_id = 5) AND source = 'workflow'", (since,), 600
            )
            assert len(ids) == 600 and shown_ids(panel) == ids and panel.count_value == count

            # Outcome and one contact over all time: a short list, complete.
            panel.preset.setCurrentText("All time")
            panel.agent.setCurrentIndex(0)
            panel.source.setCurrentIndex(0)
            panel.contact.setText("7920")  # rows 1, 50001, 100001, …: all synced workflow unassignments
            panel.outcome.setCurrentIndex(panel.outcome.findData(SyncState.SYNCED))
            await load_pages(panel, 1)
            ids, count = expected(path, "sync_state = 'synced' AND contact_id = 7920", (), 1000)
            assert shown_ids(panel) == ids and panel.count_value == count == len(ids) == million.ROWS // 50_000
            assert not panel.model.has_more
        finally:
            panel.close()
            await panel.tasks.aclose()
            panel.deleteLater()
