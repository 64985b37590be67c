"""Item delegates: outcome chips and link-styled action cells, drawn with palette-aware colours."""

from __future__ import annotations

from typing import Any

from typing_extensions import override

from PySide6.QtCore import QModelIndex, QPersistentModelIndex, QRect, QSize, Qt
from PySide6.QtGui import QFont, QPainter, QPalette
from PySide6.QtWidgets import QStyle, QStyledItemDelegate, QStyleOptionViewItem

from ui.style import chip_colors

Index = QModelIndex | QPersistentModelIndex


class ChipDelegate(QStyledItemDelegate):
    """Paints the status (from `status_role`) as a rounded chip, then the rest of the cell's text after it."""

    def __init__(self, status_role: int, parent: Any = None) -> None:
        super().__init__(parent)
        self._role = status_role

    @override
    def paint(self, painter: QPainter, option: QStyleOptionViewItem, index: Index) -> None:
        status = str(index.data(self._role) or "")
        text = str(index.data(Qt.ItemDataRole.DisplayRole) or "")
        opt = QStyleOptionViewItem(option)
        self.initStyleOption(opt, index)
        opt.text = ""
        style = opt.widget.style() if opt.widget is not None else None
        if style is not None:
            style.drawControl(QStyle.ControlElement.CE_ItemViewItem, opt, painter, opt.widget)
        if not status:
            return
        painter.save()
        font = QFont(opt.font)
        font.setPointSizeF(max(6.0, font.pointSizeF() * 0.9))
        font.setBold(True)
        painter.setFont(font)
        metrics = painter.fontMetrics()
        rect = opt.rect.adjusted(4, 3, -4, -3)
        chip_width = metrics.horizontalAdvance(status) + 14
        chip = QRect(rect.left(), rect.top(), min(chip_width, rect.width()), rect.height())
        background, foreground = chip_colors(status, opt.palette)
        painter.setRenderHint(QPainter.RenderHint.Antialiasing)
        painter.setPen(Qt.PenStyle.NoPen)
        painter.setBrush(background)
        painter.drawRoundedRect(chip, chip.height() / 2, chip.height() / 2)
        painter.setPen(foreground)
        painter.drawText(chip, Qt.AlignmentFlag.AlignCenter, status)
        rest = text[len(status) :].lstrip(" —") if text.startswith(status) else text
        if rest:
            painter.setFont(opt.font)
            selected = bool(opt.state & QStyle.StateFlag.State_Selected)
            role = QPalette.ColorRole.HighlightedText if selected else QPalette.ColorRole.Text
            painter.setPen(opt.palette.color(role))
            text_rect = rect.adjusted(chip.width() + 8, 0, 0, 0)
            elided = painter.fontMetrics().elidedText(rest, Qt.TextElideMode.ElideRight, text_rect.width())
            painter.drawText(text_rect, int(Qt.AlignmentFlag.AlignVCenter | Qt.AlignmentFlag.AlignLeft), elided)
        painter.restore()

    @override
    def sizeHint(self, option: QStyleOptionViewItem, index: Index) -> QSize:
        hint = super().sizeHint(option, index)
        return QSize(hint.width() + 24, max(hint.height(), option.fontMetrics.height() + 10))


class LinkDelegate(QStyledItemDelegate):
    """Draws the cell's text in the palette's link colour, underlined, like a clickable link."""

    @override
    def initStyleOption(self, option: QStyleOptionViewItem, index: Index) -> None:
        super().initStyleOption(option, index)
        option.font.setUnderline(True)
        option.palette.setColor(QPalette.ColorRole.Text, option.palette.color(QPalette.ColorRole.Link))
        option.displayAlignment = Qt.AlignmentFlag.AlignCenter
