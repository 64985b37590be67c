"""CSV export: "For Excel" writes a UTF-8 byte-order mark, and `workflow` is the name the workflow had then."""

from __future__ import annotations

import csv
import dataclasses
from pathlib import Path

from app.domain.history import HistoryFilter
from tests import inside
from tests.helpers import wait_until
from ui.widgets.notifications import Notice


async def test_for_excel_starts_with_a_bom_and_workflow_names_are_as_they_were(gui_app, tmp_path: Path) -> None:
    async with gui_app() as app:
        supervisor = await app.open(demo=True, seeded=False, rate=1200.0)
        workflow = (
            await supervisor.workflow_service.use_template("unassign-after-close", name="Unassign — Lucía's team")
        ).result
        assert workflow.id is not None
        published = (await supervisor.workflow_service.publish(workflow.id)).result
        await supervisor.start()
        await wait_until(lambda: inside.store(supervisor).history.count(HistoryFilter()) >= 3, timeout=60)
        await supervisor.workflow_service.stop_workflow(workflow.id)
        await supervisor.workflow_service.save_workflow(
            dataclasses.replace(await supervisor.workflow_service.workflow(workflow.id), name="Renamed")
        )

        excel = tmp_path / "excel.csv"
        plain = tmp_path / "plain.csv"
        await supervisor.history_service.export_csv(excel, HistoryFilter(), for_excel=True)
        await supervisor.history_service.export_csv(plain, HistoryFilter())
        assert excel.read_bytes().startswith(b"\xef\xbb\xbf")
        assert not plain.read_bytes().startswith(b"\xef\xbb\xbf")
        with excel.open(encoding="utf-8-sig", newline="") as handle:
            rows = list(csv.DictReader(handle))
        own = [row for row in rows if row["workflow_id"] == str(workflow.id) and row["source"] == "workflow"]
        assert own
        assert {row["workflow"] for row in own} == {published.name}
        assert "Lucía" in excel.read_text(encoding="utf-8-sig")


async def test_cancel_stops_the_export_says_so_and_leaves_no_file(gui_app, tmp_path: Path) -> None:
    async with gui_app() as app:
        supervisor = await app.open(demo=True, rate=1200.0)
        await supervisor.start()
        await wait_until(lambda: inside.store(supervisor).history.count(HistoryFilter()) >= 3, timeout=60)
        window = app.window(supervisor)
        panel = window.history
        notices: list[Notice] = []
        window.notifier.posted.connect(notices.append)
        asks = panel._progress

        def cancelled_at_the_first_batch(done: int, total: int) -> bool:
            panel._cancel_export.set()  # what Cancel sets, here before the exporter asks whether to go on
            return asks(done, total)

        panel._progress = cancelled_at_the_first_batch  # type: ignore[method-assign]
        target = tmp_path / "cancelled.csv"

        assert await panel.export_to(target) is None

        assert not target.exists()
        assert ("info", "Export cancelled; no file was written.") in [(n.level, n.text) for n in notices]
        assert not [notice for notice in notices if notice.level == "error"]
