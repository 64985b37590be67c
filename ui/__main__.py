"""Closeout's GUI entry point: the QApplication, the qasync loop, and the main window."""

from __future__ import annotations

import asyncio
import os
import sys

os.environ.setdefault("QT_API", "pyside6")

import qasync
from PySide6.QtCore import Qt
from PySide6.QtWidgets import QApplication, QLabel, QMainWindow

from app import secrets


async def _run(app: QApplication) -> int:
    window = QMainWindow()
    window.setWindowTitle("Closeout")
    mode = "connected workspace" if secrets.load_token() else "Demo workspace (no API token set)"
    label = QLabel(f"Closeout — {mode}.\nThe workflow gallery and live queue are on their way.")
    label.setAlignment(Qt.AlignmentFlag.AlignCenter)
    window.setCentralWidget(label)
    window.resize(900, 600)
    window.show()
    closed = asyncio.Event()
    app.lastWindowClosed.connect(closed.set)
    await closed.wait()
    return 0


def main() -> int:
    """Start the app on a qasync loop and return its exit code."""
    app = QApplication.instance() or QApplication(sys.argv[:1])
    assert isinstance(app, QApplication)
    app.setApplicationName("Closeout")
    with asyncio.Runner(loop_factory=lambda: qasync.QEventLoop(app)) as runner:
        return runner.run(_run(app))


if __name__ == "__main__":
    sys.exit(main())
