"""What differs between Linux, Windows and macOS, in one place, each POSIX-only call beside its fallback.

tests/unit/test_portable.py walks app/ and ui/ and fails on a POSIX-only call anywhere but here. The rest of
the choices this module stands for, so that no other module needs an OS switch:
- event loops: the GUI runs on qasync's loop (its IOCP loop on Windows), the CLI on asyncio's default (the
  Proactor loop on Windows), and uvicorn's webhook receiver serves on either through `loop.create_server`;
  nothing sets an event-loop policy or asks for uvloop;
- processes: none are forked; a child process, if ever needed, is started with `spawn` semantics (subprocess,
  or multiprocessing's "spawn" context), never `fork`, `preexec_fn` or `start_new_session`;
- paths come from platformdirs (app/paths.py); file names are checked against NTFS's rules (`file_name`).
Each function reads `sys.platform` / `os.name` when called, so tests exercise every branch on one OS.
"""

from __future__ import annotations

import asyncio
import os
import re
import signal
import sys
import time
from collections.abc import Callable
from pathlib import Path

import platformdirs

# Characters NTFS refuses in a name (with ASCII controls), and names Windows keeps for devices, whatever
# the extension: https://learn.microsoft.com/en-us/windows/win32/fileio/naming-a-file
_NTFS_FORBIDDEN = re.compile(r'[<>:"/\\|?*\x00-\x1f]')
_WINDOWS_DEVICES = frozenset(
    ["CON", "PRN", "AUX", "NUL"] + [f"{kind}{n}" for kind in ("COM", "LPT") for n in "123456789"]
)


# -- signals ---------------------------------------------------------------------------------------------------


def stop_signals(*, hangup_reloads: bool = False) -> tuple[signal.Signals, ...]:
    """The signals that mean "stop cleanly": Ctrl+C and SIGTERM, plus a closed terminal or Ctrl+Break.

    `hangup_reloads`: SIGHUP means "read the token again" (a daemon's convention), so it does not stop.
    """
    extra = "SIGBREAK" if sys.platform == "win32" else "SIGHUP"
    names = ("SIGINT", "SIGTERM") if hangup_reloads and extra == "SIGHUP" else ("SIGINT", "SIGTERM", extra)
    return tuple(getattr(signal, name) for name in names if hasattr(signal, name))


def reload_signal() -> signal.Signals | None:
    """SIGHUP, which asks a running `sync --forever` to read its token again; None on Windows, which has none.

    There `closeout-cli sync --forever` looks for a newly stored token on its own while the token is rejected.
    """
    if sys.platform == "win32":
        return None
    return getattr(signal, "SIGHUP", None)


def on_stop_signal(
    loop: asyncio.AbstractEventLoop, callback: Callable[[], object], *, hangup_reloads: bool = False
) -> Callable[[], None]:
    """Run `callback` on `loop` when a stop signal arrives; returns the function that takes the handlers away.

    `loop.add_signal_handler` exists only on Unix loops: Windows' Proactor and Selector loops (and qasync's)
    raise NotImplementedError. There a `signal.signal` handler hands over to the loop, which the Proactor
    loop wakes up for (it sets `signal.set_wakeup_fd` while it runs). Call it from the main thread.
    """
    return _on_signals(loop, stop_signals(hangup_reloads=hangup_reloads), callback)


def on_reload_signal(loop: asyncio.AbstractEventLoop, callback: Callable[[], object]) -> Callable[[], None]:
    """Run `callback` on `loop` when SIGHUP arrives (nothing on Windows); returns the remover, as `on_stop_signal`."""
    sig = reload_signal()
    return _on_signals(loop, (sig,) if sig is not None else (), callback)


def _on_signals(
    loop: asyncio.AbstractEventLoop, signals: tuple[signal.Signals, ...], callback: Callable[[], object]
) -> Callable[[], None]:
    added: list[signal.Signals] = []
    try:
        for sig in signals:
            loop.add_signal_handler(sig, callback)
            added.append(sig)
    except NotImplementedError:
        for sig in added:
            loop.remove_signal_handler(sig)
    else:

        def remove_loop_handlers() -> None:
            for sig in signals:
                loop.remove_signal_handler(sig)

        return remove_loop_handlers

    def handler(signum: int, frame: object) -> None:
        loop.call_soon_threadsafe(callback)

    previous = {sig: signal.signal(sig, handler) for sig in signals}

    def restore() -> None:
        for sig, old in previous.items():
            signal.signal(sig, old)

    return restore


# -- private files -----------------------------------------------------------------------------------------------


def write_private_file(path: Path, text: str) -> None:
    """Replace `path` with `text` atomically (a crash leaves the old file or the new one), private to the user.

    On POSIX the file has mode 0600. NTFS has no mode bits (Python maps 0600 to "not read-only"); the file is
    private there because it inherits the ACL of the user's profile folder. `private_file_protection` says which.
    """
    tmp = path.with_name(path.name + ".tmp")
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "w", encoding="utf-8") as handle:
        handle.write(text)
        handle.flush()
        os.fsync(handle.fileno())
    if os.name == "posix":
        os.chmod(tmp, 0o600)  # a .tmp left by a crash keeps the mode it was created with
    os.replace(tmp, path)


def private_file_protection() -> str:
    """In words, what keeps a file from `write_private_file` private on this OS (for the log line naming it)."""
    if os.name == "nt":
        return "which Windows keeps readable only by you and administrators (your profile folder's permissions)"
    return "with mode 0600, readable only by you"


def keyring_name() -> str:
    """The OS's own secret store, as the lead knows it, which the keyring library uses when it can."""
    if sys.platform == "win32":
        return "Windows Credential Manager"
    if sys.platform == "darwin":
        return "the macOS Keychain"
    return "a Secret Service keyring (GNOME Keyring, KWallet; a headless session has none)"


# -- paths and names ---------------------------------------------------------------------------------------------


def documents_dir() -> Path:
    """Where a file the lead saves (an export) is suggested: their Documents folder, else their home folder."""
    documents = Path(platformdirs.user_documents_dir())
    return documents if documents.is_dir() else Path.home()


def file_name(text: str) -> str:
    """`text` made a valid file name on NTFS, APFS and ext4 alike.

    Forbidden characters become "-", a Windows device name gets a "_" before it, and trailing dots and spaces
    go (Windows drops them).
    """
    name = _NTFS_FORBIDDEN.sub("-", text).rstrip(". ")
    if not name:
        raise ValueError(f"{text!r} has nothing left that can name a file")
    if name.split(".", 1)[0].upper() in _WINDOWS_DEVICES:
        name = "_" + name
    return name


def is_valid_file_name(name: str) -> bool:
    """True when `name` can name a file on every OS Closeout ships for, unchanged."""
    return bool(name) and file_name(name) == name


def file_time_stamp(at: float | None = None) -> str:
    """A local time for a file name: `20260131-235959` (a clock's ":" is not allowed on NTFS)."""
    return time.strftime("%Y%m%d-%H%M%S", time.localtime(at))


# -- process facts -----------------------------------------------------------------------------------------------


def process_age_s() -> float | None:
    """Seconds since the OS started this process, or None where it does not say cheaply.

    Linux: the process's start time in /proc/self/stat (field 22, clock ticks since boot) against
    CLOCK_BOOTTIME. Windows and macOS: None (the caller falls back to its own clock).
    """
    if sys.platform != "linux":
        return None
    try:
        stat = Path("/proc/self/stat").read_text()
        start_ticks = int(stat[stat.rindex(")") + 2 :].split()[19])
        return time.clock_gettime(time.CLOCK_BOOTTIME) - start_ticks / os.sysconf("SC_CLK_TCK")
    except (OSError, ValueError, IndexError, AttributeError):
        return None


def peak_rss_mb() -> float:
    """The process's peak resident set (Windows: peak working set), in MiB; 0 where the OS does not say.

    Hand-written for three calls, rather than psutil's whole C extension in the bundle.
    """
    if sys.platform == "win32":
        return _windows_peak_working_set() / 2**20
    try:
        import resource
    except ImportError:
        return 0.0
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    return maxrss_mb(peak)


def maxrss_mb(ru_maxrss: int) -> float:
    """The `ru_maxrss` of getrusage in MiB: macOS counts it in bytes, Linux and the BSDs in KiB."""
    return ru_maxrss / 2**20 if sys.platform == "darwin" else ru_maxrss / 2**10


def _windows_peak_working_set() -> int:
    import ctypes
    from ctypes import wintypes

    class ProcessMemoryCounters(ctypes.Structure):
        _fields_ = [
            ("cb", wintypes.DWORD),
            ("PageFaultCount", wintypes.DWORD),
            ("PeakWorkingSetSize", ctypes.c_size_t),
            ("WorkingSetSize", ctypes.c_size_t),
            ("QuotaPeakPagedPoolUsage", ctypes.c_size_t),
            ("QuotaPagedPoolUsage", ctypes.c_size_t),
            ("QuotaPeakNonPagedPoolUsage", ctypes.c_size_t),
            ("QuotaNonPagedPoolUsage", ctypes.c_size_t),
            ("PagefileUsage", ctypes.c_size_t),
            ("PeakPagefileUsage", ctypes.c_size_t),
        ]

    counters = ProcessMemoryCounters()
    counters.cb = ctypes.sizeof(counters)
    windll = ctypes.WinDLL  # type: ignore[attr-defined,unused-ignore]
    kernel32, psapi = windll("kernel32", use_last_error=True), windll("psapi", use_last_error=True)
    kernel32.GetCurrentProcess.restype = wintypes.HANDLE
    get_info = psapi.GetProcessMemoryInfo
    get_info.argtypes = [wintypes.HANDLE, ctypes.POINTER(ProcessMemoryCounters), wintypes.DWORD]
    get_info.restype = wintypes.BOOL
    if not get_info(kernel32.GetCurrentProcess(), ctypes.byref(counters), counters.cb):
        raise OSError(ctypes.get_last_error(), "GetProcessMemoryInfo failed")  # type: ignore[attr-defined,unused-ignore]
    return int(counters.PeakWorkingSetSize)
