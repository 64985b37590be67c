"""Item delegates and cell styling: outcome chips with palette-aware colours.

A chip is drawn once per status (and light or dark palette) into a pixmap and reused: `ChipDelegate`
paints it before the cell's text, and the live queue's model hands it to Qt as the cell's decoration, so its
busy view repaints without calling Python.
"""

from __future__ import annotations

from typing import Any

from typing_extensions import override

from PySide6.QtCore import QModelIndex, QPersistentModelIndex, QRect, QSize, Qt
from PySide6.QtGui import QFont, QFontMetrics, QGuiApplication, QPainter, QPalette, QPixmap
from PySide6.QtWidgets import QStyle, QStyledItemDelegate, QStyleOptionViewItem

from ui.compat import nullable
from ui.style import chip_colors, is_dark

Index = QModelIndex | QPersistentModelIndex

CHIP_PADDING = 7  # on each side of the status text
CHIP_GAP = 8  # between the chip and the text after it


class ChipPixmaps:
    """Renders and caches one chip pixmap per status and light or dark palette, in one font and pixel ratio."""

    def __init__(self, font: QFont | None = None, ratio: float | None = None) -> None:
        """The application's font and screen pixel ratio unless given."""
        base = QFont(font) if font is not None else QGuiApplication.font()
        self.font = QFont(base)
        self.font.setPointSizeF(max(6.0, base.pointSizeF() * 0.9))
        self.font.setBold(True)
        app = QGuiApplication.instance()
        screens = app.devicePixelRatio() if isinstance(app, QGuiApplication) else 1.0  # the highest of all screens
        self.ratio = ratio if ratio is not None else screens
        self._cache: dict[tuple[str, bool], QPixmap] = {}

    def pixmap(self, status: str, palette: QPalette) -> QPixmap:
        """The chip for `status`: a rounded badge in the status's colours for `palette`, the status in bold."""
        key = (status, is_dark(palette))
        chip = self._cache.get(key)
        if chip is None:
            chip = self._cache[key] = self._render(status, palette)
        return chip

    def _render(self, status: str, palette: QPalette) -> QPixmap:
        metrics = QFontMetrics(self.font)
        size = QSize(metrics.horizontalAdvance(status) + 2 * CHIP_PADDING, metrics.height() + 4)
        chip = QPixmap(size * self.ratio)
        chip.setDevicePixelRatio(self.ratio)
        chip.fill(Qt.GlobalColor.transparent)
        background, foreground = chip_colors(status, palette)
        painter = QPainter(chip)
        try:
            painter.setRenderHint(QPainter.RenderHint.Antialiasing)
            painter.setPen(Qt.PenStyle.NoPen)
            painter.setBrush(background)
            rect = QRect(0, 0, size.width(), size.height())
            painter.drawRoundedRect(rect, size.height() / 2, size.height() / 2)
            painter.setFont(self.font)
            painter.setPen(foreground)
            painter.drawText(rect, Qt.AlignmentFlag.AlignCenter, status)
        finally:
            painter.end()
        return chip


class ChipDelegate(QStyledItemDelegate):
    """Paints the status (from `status_role`) as a rounded chip, then the rest of the cell's text after it."""

    def __init__(self, status_role: int, parent: Any = None) -> None:
        super().__init__(parent)
        self._role = status_role
        self._chips = ChipPixmaps()

    @override
    def paint(self, painter: QPainter, option: QStyleOptionViewItem, index: Index) -> None:
        status = str(index.data(self._role) or "")
        text = str(index.data(Qt.ItemDataRole.DisplayRole) or "")
        opt = QStyleOptionViewItem(option)
        self.initStyleOption(opt, index)
        opt.text = ""
        widget = nullable(opt.widget)  # None when painted without a view
        style = widget.style() if widget is not None else None
        if style is not None:
            style.drawControl(QStyle.ControlElement.CE_ItemViewItem, opt, painter, opt.widget)
        if not status:
            return
        chip = self._chips.pixmap(status, opt.palette)
        chip_size = chip.deviceIndependentSize().toSize()
        rect = opt.rect.adjusted(4, 0, -4, 0)
        top = rect.top() + (rect.height() - chip_size.height()) // 2
        painter.drawPixmap(rect.left(), top, chip)
        rest = text_after_chip(status, text)
        if rest:
            selected = bool(opt.state & QStyle.StateFlag.State_Selected)
            role = QPalette.ColorRole.HighlightedText if selected else QPalette.ColorRole.Text
            painter.save()
            painter.setFont(opt.font)
            painter.setPen(opt.palette.color(role))
            text_rect = rect.adjusted(chip_size.width() + CHIP_GAP, 0, 0, 0)
            elided = opt.fontMetrics.elidedText(rest, Qt.TextElideMode.ElideRight, text_rect.width())
            painter.drawText(text_rect, int(Qt.AlignmentFlag.AlignVCenter | Qt.AlignmentFlag.AlignLeft), elided)
            painter.restore()

    @override
    def sizeHint(self, option: QStyleOptionViewItem, index: Index) -> QSize:
        hint = super().sizeHint(option, index)
        return QSize(hint.width() + 24, max(hint.height(), option.fontMetrics.height() + 10))


def text_after_chip(status: str, text: str) -> str:
    """What a cell shows after its chip: its text without the status the chip already says."""
    if text.lower().startswith(status.lower()):
        return text[len(status) :].lstrip(" —:")
    return text


class MiddleElideDelegate(QStyledItemDelegate):
    """Cuts a long cell in the middle, where the view cuts the others at the end.

    Two workflows that share a name differ only at the end of their label ("(#4, v2)"): it stays in sight.
    """

    @override
    def initStyleOption(self, option: QStyleOptionViewItem, index: Index) -> None:
        super().initStyleOption(option, index)
        option.textElideMode = Qt.TextElideMode.ElideMiddle
