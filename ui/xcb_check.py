"""Before Qt loads its xcb platform plugin: are the system libraries it links against installed?

Qt aborts the process (SIGABRT, exit 134) when the plugin cannot load, and its message names
`libxcb-cursor0` whatever is really missing. This check reads the plugin's dependencies with `ldd`
(from source and in the frozen bundle alike), and names the Debian packages to install in one line.
"""

from __future__ import annotations

import ctypes
import os
import re
import shutil
import subprocess
import sys
from collections.abc import Iterable, Mapping
from pathlib import Path

# Loaded by Qt with dlopen at start-up (not a link dependency, so ldd does not list it), and fatal when absent.
DLOPENED = ("libxcb-cursor.so.0",)
# Debian's library packages are named after the soname ("libxcb-icccm.so.4" -> "libxcb-icccm4"); these few are not.
PACKAGE_EXCEPTIONS: Mapping[str, str] = {
    "libglib-2.0.so.0": "libglib2.0-0",
    "libgthread-2.0.so.0": "libglib2.0-0",
    "libX11-xcb.so.1": "libx11-xcb1",
    "libGLX.so.0": "libglx0",
    "libOpenGL.so.0": "libopengl0",
    "libz.so.1": "zlib1g",
    "libgcc_s.so.1": "libgcc-s1",
    "libm.so.6": "libc6",
    "libdl.so.2": "libc6",
    "libpthread.so.0": "libc6",
}
NOT_FOUND = re.compile(r"^\s*(\S+)\s+=>\s+not found", re.MULTILINE)


def wants_xcb(environ: Mapping[str, str]) -> bool:
    """Whether Qt will load the xcb plugin: Linux, and no other platform asked for."""
    if not sys.platform.startswith("linux"):
        return False
    platform = environ.get("QT_QPA_PLATFORM", "")
    return platform == "" or platform.split(":")[0].split(";")[0] == "xcb"


def plugin_path() -> Path:
    """Where this Qt keeps its xcb platform plugin (inside the bundle when frozen)."""
    import PySide6
    from PySide6.QtCore import QLibraryInfo  # QtCore loads no platform plugin

    configured = Path(QLibraryInfo.path(QLibraryInfo.LibraryPath.PluginsPath)) / "platforms" / "libqxcb.so"
    if configured.exists():
        return configured
    return Path(PySide6.__file__).parent / "Qt" / "plugins" / "platforms" / "libqxcb.so"  # PyInstaller's layout


def missing_libraries(plugin: Path) -> list[str]:
    """The sonames the plugin needs that this system lacks, in the order ldd reports them."""
    missing: list[str] = []
    ldd = shutil.which("ldd")
    if ldd is not None and plugin.exists():
        env = dict(os.environ)
        bundle = getattr(sys, "_MEIPASS", None)
        if bundle:  # the frozen bundle's own copies count as present
            env["LD_LIBRARY_PATH"] = os.pathsep.join(filter(None, (str(bundle), env.get("LD_LIBRARY_PATH"))))
        try:
            result = subprocess.run([ldd, str(plugin)], capture_output=True, text=True, env=env, timeout=10)
        except (OSError, subprocess.SubprocessError):
            result = None
        if result is not None:
            missing.extend(dict.fromkeys(NOT_FOUND.findall(result.stdout)))
    for soname in DLOPENED:
        if soname not in missing and not loadable(soname):
            missing.append(soname)
    return missing


def loadable(soname: str) -> bool:
    """Whether the dynamic loader finds and loads `soname`."""
    try:
        ctypes.CDLL(soname)
    except OSError:
        return False
    return True


def package_for(soname: str) -> str:
    """The Debian/Ubuntu package that ships `soname`, by Debian's library-naming rule."""
    if soname in PACKAGE_EXCEPTIONS:
        return PACKAGE_EXCEPTIONS[soname]
    name, _, version = soname.partition(".so.")
    name = name.lower()
    major = version.split(".")[0]
    if not major:
        return name
    return f"{name}-{major}" if name[-1].isdigit() else f"{name}{major}"


def install_line(sonames: Iterable[str]) -> str:
    """The one line a user reads: what is missing and the exact command that installs it."""
    names = list(sonames)
    packages = " ".join(dict.fromkeys(package_for(soname) for soname in names))
    return (
        f"Closeout cannot open its window: the X11 libraries {', '.join(names)} are missing. "
        f"Install them with: sudo apt-get install {packages}"
    )


def check(environ: Mapping[str, str] | None = None) -> str | None:
    """The install line when Qt's xcb plugin would fail to load, or None when it can load (or is not used)."""
    if not wants_xcb(os.environ if environ is None else environ):
        return None
    missing = missing_libraries(plugin_path())
    return install_line(missing) if missing else None
