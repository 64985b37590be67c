"""The status bar's layout: connectivity, outbox, rate-limit budget, last sync, the runner, a problem, progress."""

from __future__ import annotations

from PySide6.QtWidgets import QLabel, QProgressBar, QPushButton, QStatusBar, QWidget


class StatusBarView(QStatusBar):
    """Layout only; `SyncStatusBar` keeps the figures current."""

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.connectivity = QLabel("")
        self.connectivity.setMinimumWidth(110)
        self.outbox = QLabel("")
        self.rate = QLabel("")
        self.last_sync = QLabel("")
        self.runner = QLabel("")  # which computer sends and polls for this database
        self.runner.hide()
        self.take_over = QPushButton("Take over")
        self.take_over.setFlat(True)
        self.take_over.hide()
        self.problem = QLabel("")  # background work that stopped and is being retried, in words
        self.problem.setObjectName("statusProblem")
        self.problem.hide()
        self.progress = QProgressBar()
        self.progress.setMaximumWidth(160)
        self.progress.hide()
        self.addWidget(self.connectivity)
        for label in (self.outbox, self.rate, self.last_sync, self.runner, self.take_over, self.problem):
            self.addWidget(label)
        self.addPermanentWidget(self.progress)
