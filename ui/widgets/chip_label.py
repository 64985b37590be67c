"""A label drawn as a rounded chip in the status's palette-aware colours."""

from __future__ import annotations

from typing_extensions import override

from PySide6.QtCore import QRectF, QSize, Qt
from PySide6.QtGui import QPainter, QPaintEvent
from PySide6.QtWidgets import QLabel, QWidget

from ui.style import chip_colors

PAD_X = 10
PAD_Y = 2


class ChipLabel(QLabel):
    """Shows one status word (e.g. `Online`, `Published`) as a chip; `status` picks the colour.

    It paints itself from the current palette, so it follows a light/dark switch without a style sheet.
    """

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self._status = ""
        font = self.font()
        font.setBold(True)
        self.setFont(font)

    @property
    def status(self) -> str:
        """The status word that picks the colour."""
        return self._status

    def set_status(self, text: str, status: str | None = None) -> None:
        """Show `text`, coloured for `status` (defaults to the text itself)."""
        self._status = (status or text).lower()
        self.setText(text)
        self.updateGeometry()
        self.update()

    @override
    def sizeHint(self) -> QSize:
        metrics = self.fontMetrics()
        return QSize(metrics.horizontalAdvance(self.text()) + 2 * PAD_X, metrics.height() + 2 * PAD_Y)

    @override
    def minimumSizeHint(self) -> QSize:
        return self.sizeHint()

    @override
    def paintEvent(self, event: QPaintEvent) -> None:
        background, foreground = chip_colors(self._status, self.palette())
        painter = QPainter(self)
        painter.setRenderHint(QPainter.RenderHint.Antialiasing)
        hint = self.sizeHint()
        rect = QRectF(0, (self.height() - hint.height()) / 2, min(self.width(), hint.width()), hint.height())
        painter.setPen(Qt.PenStyle.NoPen)
        painter.setBrush(background)
        painter.drawRoundedRect(rect, rect.height() / 2, rect.height() / 2)
        painter.setPen(foreground)
        painter.setFont(self.font())
        painter.drawText(rect, Qt.AlignmentFlag.AlignCenter, self.text())
        painter.end()
