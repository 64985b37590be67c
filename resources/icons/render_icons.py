"""Render closeout.svg, the one source, to every icon Closeout ships (run after editing the SVG).

- closeout-<size>.png: the window icon; the app loads these, so neither QtSvg nor the svg image plugin is bundled;
- closeout.ico: the Windows executable's icon (16 to 256 px);
- closeout.icns: the macOS app bundle's icon (16 to 1024 px, Retina sizes included).
Qt renders each size from the SVG; Pillow (a development dependency, not in the bundle) writes .ico and .icns.
Run from the repo root: `.venv/bin/python resources/icons/render_icons.py`.
"""

from __future__ import annotations

import io
import os
import sys
from pathlib import Path

os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")

from PIL import Image

from PySide6.QtCore import QBuffer, QIODevice, Qt
from PySide6.QtGui import QGuiApplication, QImage, QPainter
from PySide6.QtSvg import QSvgRenderer

HERE = Path(__file__).resolve().parent
SIZES = (16, 24, 32, 48, 64, 128, 256)
ICO_SIZES = (16, 24, 32, 48, 64, 128, 256)  # 256 is the largest an .ico holds
ICNS_SIZES = (16, 32, 64, 128, 256, 512, 1024)  # each doubles as the @2x of the size below it


def render(renderer: QSvgRenderer, size: int) -> QImage:
    """The SVG drawn at `size` x `size`, antialiased, on transparency."""
    image = QImage(size, size, QImage.Format.Format_ARGB32_Premultiplied)
    image.fill(Qt.GlobalColor.transparent)
    painter = QPainter(image)
    painter.setRenderHint(QPainter.RenderHint.Antialiasing)
    renderer.render(painter)
    painter.end()
    return image


def to_pillow(image: QImage) -> Image.Image:
    """A Qt image as a Pillow RGBA image (through PNG, so Qt's premultiplied alpha comes out straight)."""
    buffer = QBuffer()
    buffer.open(QIODevice.OpenModeFlag.WriteOnly)
    image.save(buffer, "PNG")
    return Image.open(io.BytesIO(bytes(buffer.data()))).convert("RGBA")


def main() -> int:
    """Write the PNGs, closeout.ico and closeout.icns beside the SVG."""
    _app = QGuiApplication(sys.argv[:1])
    renderer = QSvgRenderer(str(HERE / "closeout.svg"))
    if not renderer.isValid():
        sys.stderr.write("closeout.svg is not a valid SVG\n")
        return 1
    for size in SIZES:
        render(renderer, size).save(str(HERE / f"closeout-{size}.png"))
    ico = [to_pillow(render(renderer, size)) for size in ICO_SIZES]
    ico[-1].save(HERE / "closeout.ico", sizes=[(s, s) for s in ICO_SIZES], append_images=ico[:-1])
    icns = [to_pillow(render(renderer, size)) for size in ICNS_SIZES]
    icns[-1].save(HERE / "closeout.icns", append_images=icns[:-1])
    return 0


if __name__ == "__main__":
    sys.exit(main())
