"""At 1024x700 the key columns (Outcome, Undo, Reason) sit inside each table's viewport, with no horizontal scroll."""

from __future__ import annotations

from PySide6.QtCore import Qt
from PySide6.QtWidgets import QHeaderView, QStyle, QStyleOptionViewItem, QTableView, QWidget

from tests import inside
from tests.helpers import wait_until
from ui.main_window import HISTORY, QUEUE, RUN_LOG, WORKFLOWS
from ui.models import history_model, queue_model, run_log_model


def layout_now(window: QWidget) -> None:
    for widget in [window, *window.findChildren(QWidget)]:
        if widget.layout() is not None:
            widget.layout().activate()


def assert_inside(table: QTableView, columns: list[int]) -> None:
    viewport = table.viewport().rect()
    header = table.horizontalHeader()
    assert header.length() <= viewport.width() + 1, (header.length(), viewport.width())
    assert not table.horizontalScrollBar().isVisible()
    for column in columns:
        assert not table.isColumnHidden(column)
        left = header.sectionViewportPosition(column)
        width = header.sectionSize(column)
        assert left >= 0 and left + width <= viewport.width() + 1, (column, left, width, viewport.width())
        assert width >= 50, (column, width)
    if columns and header.sectionResizeMode(columns[0]) == QHeaderView.ResizeMode.Stretch:
        assert header.sectionSize(columns[0]) >= 200, "the key column is too narrow to read"


async def test_every_view_fits_its_key_columns_at_1024_by_700(gui_app) -> None:
    async with gui_app() as app:
        supervisor = await app.open(demo=True, rate=600.0)
        window = app.window(supervisor)
        window.resize(1024, 700)
        await supervisor.start()
        assert window.minimumWidth() <= 1024 and window.minimumHeight() <= 700
        assert window.width() == 1024 and window.height() == 700
        for page, table, columns in (
            (QUEUE, window.live_queue.table, [queue_model.OUTCOME, queue_model.ACTION]),
            (HISTORY, window.history.table, [history_model.OUTCOME, history_model.REASON]),
            (RUN_LOG, window.run_log.table, [run_log_model.OUTCOME, run_log_model.REASON]),
        ):
            window.show_page(page)
            await wait_until(table.isVisible)
            layout_now(window)
            assert_inside(table, columns)
        # Wider again, the columns come back.
        window.resize(1366, 740)
        window.show_page(QUEUE)
        layout_now(window)
        assert not window.live_queue.table.isColumnHidden(queue_model.CATEGORY)


async def busy_queue_at_1024(app):  # type: ignore[no-untyped-def]
    """A started demo closing 600 conversations a minute, its window at 1024x700 on the live queue."""
    supervisor = await app.open(demo=True, rate=600.0)
    await supervisor.start()
    window = app.window(supervisor)
    window.resize(1024, 700)
    window.show_page(QUEUE)
    return supervisor, window, window.live_queue


def needed_width(table: QTableView, text: str) -> int:
    """The width a cell needs to show `text` whole: the text and the item view's margin on each side."""
    margin = table.style().pixelMetric(QStyle.PixelMetric.PM_FocusFrameHMargin, None, table) + 1
    return table.fontMetrics().horizontalAdvance(text) + 2 * margin


async def test_the_queue_time_fits_its_column_at_1024_by_700_today_and_for_older_days(gui_app) -> None:
    """Seeded closes from past days show a short date that fits, not an elided "Mon 30…"; the full time is a tooltip."""
    async with gui_app() as app:
        supervisor = await app.open(demo=True, rate=60.0)
        await supervisor.start()  # as the app does: the demo seeds its month first, then the window loads
        window = app.window(supervisor)
        window.resize(1024, 700)
        window.show_page(QUEUE)
        queue = window.live_queue
        await wait_until(lambda: queue.model.rowCount() > 100)  # the seeded month as well as today's closes
        layout_now(window)
        table = queue.table
        assert not table.isColumnHidden(queue_model.TIME)
        width = table.columnWidth(queue_model.TIME)
        texts = {queue.model.item(row, queue_model.TIME).text() for row in range(queue.model.rowCount())}
        older = {t for t in texts if len(t.split()) > 1}
        assert older, f"the demo shows no close from an earlier day: {sorted(texts)[:5]}"
        for text in texts:
            assert needed_width(table, text) <= width, (text, needed_width(table, text), width)
        tip = queue.model.item(0, queue_model.TIME).toolTip()
        assert tip, "the full date and time is in the tooltip"


async def test_live_closes_show_the_channel_they_happened_on_and_the_key_columns_still_fit(gui_app) -> None:
    """The demo's closes arrive as webhooks would, without a channel; the platform's contact channels fill it in."""
    async with gui_app() as app:
        supervisor, window, queue = await busy_queue_at_1024(app)
        seeded_top = (await supervisor.queue_service.queue(1))[0].close.id or 0
        fake = inside.demo(supervisor).fake  # type: ignore[union-attr]
        names = {channel["id"]: channel["name"] for channel in fake.state.channels}

        def live_with_channel() -> list[int]:
            rows = [queue.model.row_at(r) for r in range(queue.model.rowCount())]
            return [r.close.id or 0 for r in rows if (r.close.id or 0) > seeded_top and r.close.channel]

        await wait_until(lambda: len(live_with_channel()) >= 3, timeout=30)
        for close_id in live_with_channel()[:3]:
            close = await inside.store(supervisor).db.read(inside.store(supervisor).closes.get, close_id)
            contact = fake.state.contacts[close.contact.id]
            assert close.channel in {names[c] for c in contact.channel_ids}, (close.channel, contact.channel_ids)
            at = next(r for r in range(queue.model.rowCount()) if queue.model.row_at(r).close.id == close_id)
            assert queue.model.item(at, queue_model.CHANNEL).text() == close.channel
        layout_now(window)
        assert not queue.table.isColumnHidden(queue_model.CHANNEL)
        assert_inside(queue.table, [queue_model.OUTCOME, queue_model.ACTION])


async def test_two_workflows_sharing_a_name_stay_apart_when_their_labels_are_cut_at_1024(gui_app) -> None:
    async with gui_app() as app:
        supervisor = await app.open(demo=True)
        await supervisor.start()
        second = (await supervisor.workflow_service.use_template("unassign-after-close")).result
        assert second.id is not None
        await supervisor.workflow_service.publish(second.id)
        window = app.window(supervisor)
        window.resize(1024, 700)
        window.show_page(WORKFLOWS)
        table = window.workflows_page.workflows
        await wait_until(lambda: table.model() is not None and table.model().rowCount() == 2)
        layout_now(window)
        model = table.model()
        width = table.columnWidth(0) - needed_width(table, "")
        labels = [model.index(row, 0).data() for row in range(2)]
        assert labels[0] != labels[1]
        shown = []
        for row, label in enumerate(labels):
            option = QStyleOptionViewItem()
            table.itemDelegateForColumn(0).initStyleOption(option, model.index(row, 0))
            shown.append(table.fontMetrics().elidedText(label, option.textElideMode, width))
        assert shown[0] != shown[1], shown
        # The other columns, and the run log's reasons, are still cut at the end, where they read best.
        assert table.textElideMode() == Qt.TextElideMode.ElideRight
        assert window.run_log.table.textElideMode() == Qt.TextElideMode.ElideRight


async def test_new_closes_do_not_push_the_rows_under_the_pointer_down(gui_app) -> None:
    """With the pointer over the queue, a close arriving on top leaves the row under it (and its Undo) in place."""
    async with gui_app() as app:
        _, window, queue = await busy_queue_at_1024(app)
        await wait_until(lambda: queue._loaded and queue.model.rowCount() > 20)
        layout_now(window)
        table = queue.table
        table.viewport().setAttribute(Qt.WidgetAttribute.WA_UnderMouse, True)  # as an Enter event leaves it
        second = queue.proxy.index(1, 0)
        under_pointer = queue.model.row_at(queue.proxy.mapToSource(second).row()).close.id
        rect = table.visualRect(second)
        count = queue.model.rowCount()
        await wait_until(lambda: queue.model.rowCount() >= count + 2, timeout=30)
        layout_now(window)
        now = table.indexAt(rect.center())
        assert queue.model.row_at(queue.proxy.mapToSource(now).row()).close.id == under_pointer
        table.viewport().setAttribute(Qt.WidgetAttribute.WA_UnderMouse, False)
        count = queue.model.rowCount()
        await wait_until(lambda: queue.model.rowCount() >= count + 1, timeout=30)
        assert table.verticalScrollBar().value() > 0, "the newer rows stay above until the lead scrolls up"
