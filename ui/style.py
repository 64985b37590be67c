"""Palette-aware colours: chips and markers that read well in both the light and the dark system palette."""

from __future__ import annotations

from PySide6.QtGui import QColor, QPalette

# The hue of each outcome chip; lightness and saturation follow the palette so dark mode stays readable.
CHIP_HUES = {
    "pending": 38,  # amber
    "unassigned": 140,  # green
    "assigned": 140,
    "done": 140,
    "synced": 140,
    "published": 140,
    "online": 140,
    "skipped": 220,  # slate blue
    "waiting": 200,
    "failed": 0,  # red
    "token rejected": 0,
    "offline": 20,
    "undone": 280,  # purple
    "stopped": 280,
    "demo": 260,
    "draft": 38,
    "no workflow": -1,  # grey
    "starting": -1,
    "connecting…": -1,
}


def is_dark(palette: QPalette) -> bool:
    """True when the window background is dark."""
    return palette.color(QPalette.ColorRole.Window).lightness() < 128


def chip_colors(status: str, palette: QPalette) -> tuple[QColor, QColor]:
    """Background and text colours of a chip for `status`."""
    hue = CHIP_HUES.get(status.lower(), -1)
    dark = is_dark(palette)
    if hue < 0:
        background = QColor.fromHsl(0, 0, 70 if dark else 225)
        text = QColor.fromHsl(0, 0, 230 if dark else 50)
    else:
        background = QColor.fromHsl(hue, 110 if dark else 170, 60 if dark else 220)
        text = QColor.fromHsl(hue, 120 if dark else 200, 225 if dark else 55)
    return background, text


def needs_input_color(palette: QPalette) -> QColor:
    """The red that marks a field needing input (lighter on a dark palette)."""
    return QColor("#ff6b6b") if is_dark(palette) else QColor("#d32f2f")


def muted(palette: QPalette) -> QColor:
    """Secondary text."""
    return palette.color(QPalette.ColorGroup.Active, QPalette.ColorRole.PlaceholderText)


def app_stylesheet(palette: QPalette) -> str:
    """The few style rules Closeout adds on top of the platform style, built from the palette."""
    red = needs_input_color(palette).name()
    mid = palette.color(QPalette.ColorRole.Mid).name()
    base = palette.color(QPalette.ColorRole.Base).name()
    alt = palette.color(QPalette.ColorRole.AlternateBase).name()
    highlight = palette.color(QPalette.ColorRole.Highlight)
    banner = QColor(highlight)
    banner.setAlpha(40)
    return f"""
*[needsInput="true"] {{ border: 2px solid {red}; border-radius: 4px; }}
QLabel[role="missing"] {{ color: {red}; }}
QLabel[role="warning"] {{ color: {red}; }}
QLabel[role="muted"] {{ color: {muted(palette).name()}; }}
QLabel[role="title"] {{ font-size: 15pt; font-weight: 600; }}
QLabel[role="section"] {{ font-size: 11pt; font-weight: 600; }}
QFrame[role="card"] {{ background: {base}; border: 1px solid {mid}; border-radius: 8px; }}
QFrame[role="card"] QLabel {{ background: transparent; border: none; }}
QFrame[role="banner"] {{ background: rgba({banner.red()}, {banner.green()}, {banner.blue()}, 40);
    border: 1px solid {highlight.name()}; border-radius: 6px; }}
QFrame[role="banner"] QLabel {{ background: transparent; border: none; }}
QFrame[role="notice"] {{ background: {alt}; border: 1px solid {mid}; border-radius: 6px; }}
QFrame[role="notice"][level="error"] {{ border: 1px solid {red}; }}
QFrame[role="notice"] QLabel {{ background: transparent; border: none; }}
QFrame[role="step"] {{ border: 1px solid {mid}; border-radius: 6px; }}
QFrame[role="step"][needsInput="true"] {{ border: 2px solid {red}; }}
QFrame[role="step"] QLabel, QFrame[role="step"] QCheckBox {{ border: none; }}
QListWidget#nav {{ border: none; font-size: 11pt; }}
QListWidget#nav::item {{ padding: 8px 10px; }}
"""
