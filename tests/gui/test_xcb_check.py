"""Before Qt loads: the xcb plugin's missing system libraries are named, with the one apt-get line to install them."""

from __future__ import annotations

import ctypes
import os
import shutil
import subprocess
import sys
from pathlib import Path

from ui import xcb_check


def test_the_package_names_follow_debians_library_naming() -> None:
    assert xcb_check.package_for("libxcb-icccm.so.4") == "libxcb-icccm4"
    assert xcb_check.package_for("libxcb-keysyms.so.1") == "libxcb-keysyms1"
    assert xcb_check.package_for("libxcb-cursor.so.0") == "libxcb-cursor0"
    assert xcb_check.package_for("libxkbcommon-x11.so.0") == "libxkbcommon-x11-0"
    assert xcb_check.package_for("libEGL.so.1") == "libegl1"
    assert xcb_check.package_for("libglib-2.0.so.0") == "libglib2.0-0"


def test_one_line_names_the_libraries_and_the_exact_command() -> None:
    line = xcb_check.install_line(["libxcb-icccm.so.4", "libxcb-keysyms.so.1"])
    assert "\n" not in line
    assert line.endswith("sudo apt-get install libxcb-icccm4 libxcb-keysyms1")
    assert "libxcb-icccm.so.4, libxcb-keysyms.so.1" in line


def test_a_plugin_whose_libraries_cannot_be_found_is_caught(tmp_path: Path) -> None:
    # A copy of the real plugin outside Qt's tree: its $ORIGIN-relative path to Qt's own libraries no longer leads
    # anywhere, so the loader would fail on it exactly as on a missing system library.
    plugin = tmp_path / "libqxcb.so"
    shutil.copy(xcb_check.plugin_path(), plugin)
    missing = xcb_check.missing_libraries(plugin)
    assert "libQt6XcbQpa.so.6" in missing


def test_what_the_check_reports_missing_really_does_not_load() -> None:
    missing = xcb_check.missing_libraries(xcb_check.plugin_path())
    for soname in missing:
        try:
            ctypes.CDLL(soname)
        except OSError:
            continue
        raise AssertionError(f"{soname} was reported missing but loads")


def test_other_platforms_skip_the_check() -> None:
    assert not xcb_check.wants_xcb({"QT_QPA_PLATFORM": "offscreen"})
    assert xcb_check.wants_xcb({"QT_QPA_PLATFORM": "xcb"}) == sys.platform.startswith("linux")
    assert xcb_check.check({"QT_QPA_PLATFORM": "offscreen"}) is None


def test_the_app_says_what_to_install_instead_of_aborting(tmp_path: Path) -> None:
    env = dict(os.environ, QT_QPA_PLATFORM="xcb", DISPLAY=":64999", CLOSEOUT_HOME=str(tmp_path))
    code = "import sys; from ui.__main__ import main; sys.exit(main([]))"
    missing = xcb_check.missing_libraries(xcb_check.plugin_path())
    result = subprocess.run([sys.executable, "-c", code], env=env, capture_output=True, text=True, timeout=60)
    if missing:
        assert result.returncode == 2, result.stderr
        lines = result.stderr.strip().splitlines()
        assert lines == [xcb_check.install_line(missing)]
    else:  # every library is there: Qt gets as far as the (absent) display, past the library check
        assert "apt-get install" not in result.stderr
        assert result.returncode != 2
