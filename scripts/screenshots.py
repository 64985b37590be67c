"""Render every view of the desktop app, with the demo workspace populated, to docs/screenshots/*.png.

Run it from the repository root. It renders each view at 1366x768 (docs/screenshots/) and at 1024x700
(docs/screenshots/1024x700/), each time on an Xvfb screen of that size with a window manager (openbox, when
installed), the window maximized as a lead's would be:

    .venv/bin/python scripts/screenshots.py    # needs: apt-get install xvfb xauth openbox

It uses a throw-away CLOSEOUT_HOME, so it never touches a real workspace or database.
"""

from __future__ import annotations

import asyncio
import os
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
OUT = ROOT / "docs" / "screenshots"


SIZES = ((1366, 768, OUT), (1024, 700, OUT / "1024x700"))


def _reexec_under_xvfb() -> int | None:
    if os.environ.get("_SHOTS_XVFB"):
        return None
    xvfb = shutil.which("xvfb-run")
    if xvfb is None:
        sys.stderr.write("xvfb-run is missing: sudo apt-get install xvfb xauth openbox\n")
        return 2
    for width, height, folder in SIZES:
        env = dict(os.environ, _SHOTS_XVFB="1", _SHOTS_SIZE=f"{width}x{height}", _SHOTS_DIR=str(folder))
        env["QT_QPA_PLATFORM"] = "xcb"
        command = [xvfb, "-a", "-s", f"-screen 0 {width}x{height}x24", sys.executable, __file__]
        code = subprocess.call(command, env=env)
        if code:
            return code
    return 0


def _window_manager() -> subprocess.Popen[bytes] | None:
    """Start openbox on the Xvfb display, so the window is placed and maximized as on a desktop."""
    openbox = shutil.which("openbox")
    if openbox is None:
        sys.stderr.write("no window manager (apt-get install openbox): the window is not maximized\n")
        return None
    return subprocess.Popen([openbox, "--sm-disable"], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)


async def _shoot() -> int:
    from PySide6.QtWidgets import QApplication

    from app.bootstrap import Supervisor
    from app.settings import Settings
    from ui.main_window import HISTORY, QUEUE, RUN_LOG, SETTINGS, TEAM, WORKFLOWS, MainWindow

    app = QApplication.instance()
    assert isinstance(app, QApplication)
    app.setQuitOnLastWindowClosed(False)
    home = Path(os.environ["CLOSEOUT_HOME"])
    settings = Settings({"demo_closes_per_minute": 240.0}, path=home / "settings.json")
    supervisor = await Supervisor.open(settings=settings, demo=True, poll_seconds=30)
    window = MainWindow(supervisor)
    window.showMaximized()
    await supervisor.start()
    window.start()
    out = Path(os.environ.get("_SHOTS_DIR", str(OUT)))
    out.mkdir(parents=True, exist_ok=True)

    async def shot(name: str, settle: float = 1.0) -> None:
        await asyncio.sleep(settle)
        path = out / f"{name}.png"
        window.grab().save(str(path), "PNG")
        convert = Path("/usr/bin/convert")
        if convert.exists():  # an 8-bit palette keeps each PNG small; the UI has few colours
            subprocess.run([str(convert), str(path), "-colors", "255", f"PNG8:{path}"], check=False)
        sys.stdout.write(f"{path.relative_to(ROOT)} ({path.stat().st_size // 1024} KB)\n")

    try:
        await asyncio.sleep(6)  # let the simulated inbox close some conversations
        window.show_page(WORKFLOWS)
        await shot("01-workflows-gallery", 2.5)
        draft = (await supervisor.workflow_service.use_template("round-robin-online")).result
        await window.workflows_page.open_editor(draft)
        await shot("02-workflow-editor-missing-team")
        window.workflows_page.show_gallery()
        window.show_page(QUEUE)
        await shot("03-live-queue", 2.0)
        window.show_page(HISTORY)
        await shot("04-history-with-charts", 4.0)
        window.show_page(RUN_LOG)
        await shot("05-run-log", 2.0)
        window.show_page(SETTINGS)
        await shot("06-settings")
        window.show_page(TEAM)
        await shot("08-team")
        window.show_page(QUEUE)
        await asyncio.sleep(1.0)
        status = window.status.grab()
        status.save(str(out / "07-status-bar.png"), "PNG")
        sys.stdout.write(f"{(out / '07-status-bar.png').relative_to(ROOT)}\n")
    finally:
        window.close()
        await window.shutdown()
        await supervisor.close()
    return 0


def main() -> int:
    """Render the screenshots (re-running under Xvfb first when there is no display)."""
    code = _reexec_under_xvfb()
    if code is not None:
        return code
    manager = _window_manager()
    home = tempfile.mkdtemp(prefix="closeout-shots-")
    os.environ["CLOSEOUT_HOME"] = home
    sys.path.insert(0, str(ROOT))
    try:
        from ui.__main__ import main as gui_main

        async def session(app: object, args: object) -> int:
            return await _shoot()

        return gui_main([], session)  # type: ignore[arg-type]
    finally:
        shutil.rmtree(home, ignore_errors=True)
        if manager is not None:
            manager.terminate()
            manager.wait(10)


if __name__ == "__main__":
    sys.exit(main())
