"""The history's charts, drawn with pyqtgraph in the palette's colours.

pyqtgraph takes over a second to import (it copies every Qt class into its own namespace), so the app starts
importing it on a worker thread right after the window shows, and the charts are built on first use.
"""

from __future__ import annotations

import datetime as dt
import math
import threading
from collections.abc import Mapping, Sequence
from typing import Any

from PySide6.QtGui import QColor, QPalette
from PySide6.QtWidgets import QVBoxLayout, QWidget

from ui.style import is_dark

_preload: threading.Thread | None = None

SOURCE_ORDER = ("workflow", "undo", "platform")
SOURCE_LABELS = {"workflow": "Workflow", "undo": "Undo", "platform": "Platform"}
SOURCE_HUES = {"workflow": 210, "undo": 280, "platform": 30}


def preload_in_background() -> None:
    """Start importing pyqtgraph on a daemon thread (the first chart waits for it, if it must)."""
    global _preload
    if _preload is None:

        def load() -> None:
            import pyqtgraph  # noqa: F401

        _preload = threading.Thread(target=load, name="preload-pyqtgraph", daemon=True)
        _preload.start()


def _pg() -> Any:
    import pyqtgraph

    return pyqtgraph


def source_color(source: str, palette: QPalette) -> QColor:
    """A chart colour per history source, lighter on a dark palette."""
    hue = SOURCE_HUES.get(source, 0)
    return QColor.fromHsl(hue, 150, 150 if is_dark(palette) else 120)


DAY = 86_400


def tick_step(top: float, ticks: int = 5) -> int:
    """A whole, round step (1, 2, 5, 10, 20, ...) that puts about `ticks` ticks up to `top`."""
    rough = max(1.0, top / ticks)
    magnitude = 10 ** math.floor(math.log10(rough))
    for factor in (1, 2, 5, 10):
        if factor * magnitude >= rough:
            return int(factor * magnitude)
    return int(10 * magnitude)


def whole_ticks(axis: Any, top: float) -> None:
    """Counts are whole numbers: tick the axis at whole, round steps only."""
    step = tick_step(top)
    axis.setTickSpacing(step, step)


class _Chart(QWidget):
    """A PlotWidget styled from the palette."""

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        pg = _pg()
        palette = self.palette()
        self.plot = pg.PlotWidget(background=palette.color(QPalette.ColorRole.Base))
        text = palette.color(QPalette.ColorRole.Text)
        for name in ("left", "bottom"):
            axis = self.plot.getAxis(name)
            axis.setPen(pg.mkPen(palette.color(QPalette.ColorRole.Mid)))
            axis.setTextPen(pg.mkPen(text))
        self.plot.setMenuEnabled(False)
        self.plot.setMouseEnabled(x=False, y=False)
        self.plot.hideButtons()
        self.plot.setMinimumHeight(160)
        layout = QVBoxLayout(self)
        layout.setContentsMargins(0, 0, 0, 0)
        layout.addWidget(self.plot)


LEGEND_HEADROOM = 1.6


class PerDayChart(_Chart):
    """Assignment changes per local day, stacked by source (workflow, undo, platform)."""

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.legend = self.plot.addLegend(offset=(-10, 5), labelTextColor=self.palette().color(QPalette.ColorRole.Text))
        self.totals: dict[int, int] = {}

    def set_data(self, rows: Sequence[tuple[int, str, int]], days_shown: int | None = None) -> None:
        """`rows` are (local day start, source, count); `days_shown` days end on the newest, empty ones too."""
        pg = _pg()
        self.plot.clear()
        self.legend.clear()
        days = sorted({day for day, _, _ in rows})
        if days and days_shown:  # a day with no change is still a day of the range: it shows, empty
            days = [days[-1] - DAY * back for back in range(days_shown - 1, -1, -1)]
            rows = [row for row in rows if row[0] >= days[0]]
        index = {day: i for i, day in enumerate(days)}
        counts: dict[str, list[int]] = {source: [0] * len(days) for source in SOURCE_ORDER}
        for day, source, count in rows:
            counts.setdefault(source, [0] * len(days))[index[day]] += count
        self.totals = {day: sum(c[index[day]] for c in counts.values()) for day in days}
        bottom = [0] * len(days)
        palette = self.palette()
        for source, heights in counts.items():
            if not any(heights):
                continue
            bars = pg.BarGraphItem(
                x=list(range(len(days))),
                height=heights,
                y0=list(bottom),
                width=0.75,
                brush=source_color(source, palette),
                pen=pg.mkPen(None),
                name=SOURCE_LABELS.get(source, source),
            )
            self.plot.addItem(bars)  # named items join the legend by themselves
            bottom = [b + h for b, h in zip(bottom, heights, strict=True)]
        step = max(1, len(days) // 8)
        ticks = [
            (i, dt.datetime.fromtimestamp(day).strftime("%d %b"))  # a local midnight, named in local time
            for i, day in enumerate(days)
            if i % step == 0 or i == len(days) - 1
        ]
        self.plot.getAxis("bottom").setTicks([ticks])
        self.plot.setXRange(-0.6, max(len(days), 7) - 0.4, padding=0)
        top = max(bottom, default=1)
        # The legend is one row across the top; the headroom above the tallest bar keeps it off the bars.
        self.legend.setColumnCount(max(1, sum(1 for heights in counts.values() if any(heights))))
        self.plot.setYRange(0, top * LEGEND_HEADROOM or 1, padding=0)
        whole_ticks(self.plot.getAxis("left"), top)


class OpenLoadChart(_Chart):
    """Open contacts per agent now, as horizontal bars, busiest at the top."""

    def set_data(self, loads: Mapping[int, int], names: Mapping[int, str]) -> None:
        """`loads` is open contacts by agent id."""
        pg = _pg()
        self.plot.clear()
        agents = sorted(loads.items(), key=lambda item: (item[1], names.get(item[0], "")))
        if not agents:
            return
        bars = pg.BarGraphItem(
            x0=0,
            y=list(range(len(agents))),
            height=0.7,
            width=[count for _, count in agents],
            brush=self.palette().color(QPalette.ColorRole.Highlight),
            pen=pg.mkPen(None),
        )
        self.plot.addItem(bars)
        ticks = [(i, names.get(agent_id, f"user {agent_id}")) for i, (agent_id, _) in enumerate(agents)]
        self.plot.getAxis("left").setTicks([ticks])
        self.plot.setYRange(-0.6, len(agents) - 0.4, padding=0)
        most = max(count for _, count in agents)
        self.plot.setXRange(0, most * 1.1 or 1, padding=0)
        whole_ticks(self.plot.getAxis("bottom"), most)
