"""One gallery card's layout: category badge, name, purpose, a trigger → steps sketch, and Use Template."""

from __future__ import annotations

from PySide6.QtCore import Qt
from PySide6.QtWidgets import QFrame, QHBoxLayout, QLabel, QPushButton, QSizePolicy, QVBoxLayout, QWidget


class TemplateCardView(QFrame):
    """Layout only; `TemplateCard` sets the words."""

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setProperty("role", "card")
        self.setSizePolicy(QSizePolicy.Policy.Preferred, QSizePolicy.Policy.Preferred)
        self.setMinimumWidth(260)
        layout = QVBoxLayout(self)
        layout.setContentsMargins(14, 12, 14, 12)
        layout.setSpacing(6)
        top = QHBoxLayout()
        self.badge = QLabel()
        top.addWidget(self.badge)
        top.addStretch(1)
        layout.addLayout(top)
        self.name = QLabel()
        self.name.setWordWrap(True)
        self.name.setProperty("role", "section")
        layout.addWidget(self.name)
        self.purpose = QLabel()
        self.purpose.setWordWrap(True)
        self.purpose.setProperty("role", "muted")
        self.purpose.setAlignment(Qt.AlignmentFlag.AlignTop | Qt.AlignmentFlag.AlignLeft)
        layout.addWidget(self.purpose, 1)
        self.sketch = QLabel()
        self.sketch.setWordWrap(True)
        self.sketch.setTextFormat(Qt.TextFormat.RichText)
        layout.addWidget(self.sketch)
        bottom = QHBoxLayout()
        bottom.addStretch(1)
        self.use = QPushButton("Use Template")
        bottom.addWidget(self.use)
        layout.addLayout(bottom)
