"""A gallery card for one workflow template."""

from __future__ import annotations

import html
from typing import Any

from PySide6.QtCore import Signal
from PySide6.QtWidgets import QWidget

from ui.style import chip_colors
from ui.views.template_card_view import TemplateCardView


class TemplateCard(TemplateCardView):
    """Shows a `Template`; `use_requested(template_id)` when Use Template is clicked."""

    use_requested = Signal(str)

    def __init__(self, template: Any, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.template = template
        self.setObjectName(f"card_{template.id}")
        palette = self.palette()
        background, foreground = chip_colors("skipped", palette)
        self.badge.setText(template.category)
        self.badge.setStyleSheet(
            f"QLabel {{ background: {background.name()}; color: {foreground.name()}; border-radius: 8px;"
            " padding: 1px 8px; font-weight: 600; }"
        )
        self.name.setText(template.name)
        self.purpose.setText(template.purpose)
        self.sketch.setText(self.sketch_html(template.sketch, palette))
        self.sketch.setToolTip(" → ".join(template.sketch))
        self.use.setObjectName(f"use_{template.id}")
        self.use.clicked.connect(lambda: self.use_requested.emit(template.id))

    @staticmethod
    def sketch_html(parts: tuple[str, ...], palette: Any) -> str:
        """Trigger → steps as small boxes joined by arrows."""
        first_bg, first_fg = chip_colors("pending", palette)
        step_bg, step_fg = chip_colors("done", palette)
        cells = []
        for i, part in enumerate(parts):
            bg, fg = (first_bg, first_fg) if i == 0 else (step_bg, step_fg)
            cells.append(
                f'<span style="background:{bg.name()}; color:{fg.name()};">&nbsp;{html.escape(part)}&nbsp;</span>'
            )
        return " <b>→</b> ".join(cells)
