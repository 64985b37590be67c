"""Files the GUI ships beside its code (`resources/` at the repo root), found the same from source and frozen."""

from __future__ import annotations

import sys
from pathlib import Path

from PySide6.QtGui import QIcon

ICON_SIZES = (16, 24, 32, 48, 64, 128, 256)


def resources_dir() -> Path:
    """`resources/`: in the PyInstaller bundle's data folder when frozen, else beside the `ui` package."""
    bundle = getattr(sys, "_MEIPASS", None)
    base = Path(bundle) if bundle else Path(__file__).resolve().parent.parent
    return base / "resources"


def app_icon() -> QIcon:
    """The window icon, from PNGs (no SVG, so the bundle needs neither QtSvg nor its image plugin)."""
    icon = QIcon()
    folder = resources_dir() / "icons"
    for size in ICON_SIZES:
        path = folder / f"closeout-{size}.png"
        if path.is_file():
            icon.addFile(str(path))
    return icon
