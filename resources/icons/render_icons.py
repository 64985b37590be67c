"""Render closeout.svg to the PNG sizes the app and the bundle ship (run after editing the SVG).

The app loads the PNGs, not the SVG, so neither QtSvg nor the svg image plugin has to be bundled.
Run from the repo root: `.venv/bin/python resources/icons/render_icons.py`.
"""

from __future__ import annotations

import os
import sys
from pathlib import Path

os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")

from PySide6.QtCore import Qt
from PySide6.QtGui import QGuiApplication, QImage, QPainter
from PySide6.QtSvg import QSvgRenderer

HERE = Path(__file__).resolve().parent
SIZES = (16, 24, 32, 48, 64, 128, 256)


def main() -> int:
    """Write closeout-<size>.png beside the SVG for every size in SIZES."""
    _app = QGuiApplication(sys.argv[:1])
    renderer = QSvgRenderer(str(HERE / "closeout.svg"))
    if not renderer.isValid():
        sys.stderr.write("closeout.svg is not a valid SVG\n")
        return 1
    for size in SIZES:
        image = QImage(size, size, QImage.Format.Format_ARGB32_Premultiplied)
        image.fill(Qt.GlobalColor.transparent)
        painter = QPainter(image)
        painter.setRenderHint(QPainter.RenderHint.Antialiasing)
        renderer.render(painter)
        painter.end()
        image.save(str(HERE / f"closeout-{size}.png"))
    return 0


if __name__ == "__main__":
    sys.exit(main())
