"""A label that keeps the height of a fixed number of lines whatever it shows, so nothing below it moves."""

from __future__ import annotations

from PySide6.QtCore import QEvent
from PySide6.QtGui import QFontMetrics
from PySide6.QtWidgets import QLabel, QSizePolicy, QWidget


class ReservedLabel(QLabel):
    """Word-wrapped text in a space reserved for `lines` lines; the whole text is also its tooltip."""

    def __init__(self, lines: int = 2, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.lines = lines
        self.setWordWrap(True)
        self.setSizePolicy(QSizePolicy.Policy.Preferred, QSizePolicy.Policy.Fixed)
        self._reserve()

    def _reserve(self) -> None:
        margins = self.contentsMargins()
        spacing = QFontMetrics(self.font()).lineSpacing()
        self.setFixedHeight(self.lines * spacing + margins.top() + margins.bottom() + 2 * self.margin() + 8)

    def setText(self, text: str) -> None:
        """Show `text` in the reserved space (the tooltip holds all of it should it not fit)."""
        super().setText(text)
        self.setToolTip(text if text else "")

    def changeEvent(self, event: QEvent) -> None:
        """Follow a font or style change (the reserved height is counted in lines)."""
        super().changeEvent(event)
        if event.type() in (QEvent.Type.FontChange, QEvent.Type.StyleChange) and hasattr(self, "lines"):
            self._reserve()
