"""The main window's layout: navigation on the left, the demo banner and notices above the pages, a status bar."""

from __future__ import annotations

from PySide6.QtCore import Qt
from PySide6.QtWidgets import (
    QFrame,
    QHBoxLayout,
    QLabel,
    QListWidget,
    QMainWindow,
    QPushButton,
    QStackedWidget,
    QVBoxLayout,
    QWidget,
)

PAGES = ("Workflows", "Live queue", "History", "Run log", "Team", "Settings")
WORKFLOWS, QUEUE, HISTORY, RUN_LOG, TEAM, SETTINGS = range(len(PAGES))


class DemoBannerView(QFrame):
    """Says the workspace is the built-in demo, with a way out."""

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setProperty("role", "banner")
        layout = QHBoxLayout(self)
        layout.setContentsMargins(12, 8, 8, 8)
        text = QVBoxLayout()
        self.title = QLabel("<b>Demo workspace</b>")
        self.body = QLabel(
            "A simulated respond.io workspace runs inside Closeout. The “Unassign After Conversation Closes” "
            "template is published and the live queue is live: conversations close and get unassigned on their own."
        )
        self.body.setWordWrap(True)
        text.addWidget(self.title)
        text.addWidget(self.body)
        layout.addLayout(text, 1)
        self.connect_button = QPushButton("Connect your workspace")
        self.connect_button.setDefault(True)
        layout.addWidget(self.connect_button, 0, Qt.AlignmentFlag.AlignVCenter)


class MainWindowView(QMainWindow):
    """Builds the frame every page sits in; `MainWindow` adds the pages and the logic."""

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setWindowTitle("Closeout")
        self.setMinimumSize(960, 600)  # fits a 1366x768 laptop with its panels; the tables fit columns to it
        central = QWidget()
        outer = QHBoxLayout(central)
        outer.setContentsMargins(0, 0, 0, 0)
        outer.setSpacing(0)

        self.nav = QListWidget()
        self.nav.setObjectName("nav")
        self.nav.setFixedWidth(170)
        self.nav.setFrameShape(QFrame.Shape.NoFrame)
        for number, name in enumerate(PAGES, 1):
            self.nav.addItem(name)
            item = self.nav.item(number - 1)
            item.setToolTip(f"{name} (Ctrl+{number})")
        outer.addWidget(self.nav)

        line = QFrame()
        line.setFrameShape(QFrame.Shape.VLine)
        line.setFrameShadow(QFrame.Shadow.Sunken)
        outer.addWidget(line)

        right = QVBoxLayout()
        right.setContentsMargins(12, 10, 12, 6)
        right.setSpacing(8)
        self.banner = DemoBannerView()
        self.banner.hide()
        right.addWidget(self.banner)
        self.stack = QStackedWidget()
        right.addWidget(self.stack, 1)
        # Notices float over this area (see NotificationArea), so showing one never moves a control.
        self.page_area = QWidget()
        self.page_area.setLayout(right)
        outer.addWidget(self.page_area, 1)
        self.setCentralWidget(central)
