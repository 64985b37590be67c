"""Charts and date presets follow the machine's zone, east and west of UTC and across a DST change."""

from __future__ import annotations

import datetime as dt
import time
from collections.abc import Iterator
from zoneinfo import ZoneInfo

import pytest

from PySide6.QtWidgets import QApplication

from app.domain.local_days import day_start
from ui.widgets.charts import PerDayChart
from ui.widgets.history_panel import preset_range


@pytest.fixture(params=["Asia/Tokyo", "America/New_York"])
def machine_zone(request: pytest.FixtureRequest, monkeypatch: pytest.MonkeyPatch) -> Iterator[ZoneInfo]:
    monkeypatch.setenv("TZ", request.param)
    time.tzset()
    yield ZoneInfo(request.param)
    monkeypatch.undo()
    time.tzset()


def test_day_labels_are_the_local_dates_of_the_bars(qapp: QApplication, machine_zone: ZoneInfo) -> None:
    dates = [dt.date(2026, 10, 31) + dt.timedelta(days=k) for k in range(3)]  # New York's DST change is 1 Nov
    rows = [(int(day_start(d, None)), "workflow", 1 + k) for k, d in enumerate(dates)]
    chart = PerDayChart()
    try:
        chart.set_data(rows)
        ticks = chart.plot.getAxis("bottom")._tickLevels[0]  # what setTicks was given
    finally:
        chart.deleteLater()
    assert [label for _, label in ticks] == ["31 Oct", "01 Nov", "02 Nov"]
    assert rows[0][0] == int(day_start(dates[0], machine_zone))


def test_presets_start_at_local_midnight_on_either_side_of_new_yorks_dst_change(machine_zone: ZoneInfo) -> None:
    def midnight(day: dt.date) -> float:
        return dt.datetime.combine(day, dt.time(), tzinfo=machine_zone).timestamp()

    nov_2 = dt.date(2026, 11, 2)
    since, until = preset_range("Yesterday", nov_2)
    assert (since, until) == (midnight(dt.date(2026, 11, 1)), midnight(nov_2))
    assert until - since == (25 if machine_zone.key == "America/New_York" else 24) * 3600
    assert preset_range("This month", nov_2) == (midnight(dt.date(2026, 11, 1)), None)
    assert preset_range("Last 7 days", nov_2) == (midnight(dt.date(2026, 10, 27)), None)
    assert preset_range("Today", nov_2) == (midnight(nov_2), None)
