"""`closeout --smoke-test`: run the real window on the demo workspace offscreen, check it, print one JSON line.

It proves a build works end to end (tests/frozen and benchmarks/frozen_startup.py run it on the PyInstaller
bundle; it runs the same from source): Qt starts, the demo's engine unassigns contacts, the History page
draws its charts (pyqtgraph and numpy load), what was written to the database reads back after a close and
a reopen, and Qt can read ICU's collation data. It runs in a fresh temporary `CLOSEOUT_HOME`, never touches
the OS keyring, and removes the folder afterwards.

Output, on stdout: `{"startup_ms": ..., "unassigned": ..., "rss_mb": ..., ...}`; exit 0. On any failure:
one line on stderr starting with "closeout --smoke-test failed:", and exit 1.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import logging
import os
import shutil
import sys
import tempfile
import time
import warnings
from collections.abc import Awaitable, Callable, Iterator
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any, TypeVar

from PySide6.QtCore import QMessageLogContext, QtMsgType, qInstallMessageHandler
from PySide6.QtWidgets import QApplication

from app import portable
from app.bootstrap import Supervisor, postgres_driver
from app.domain.history import ChangeSource, Cursor, HistoryFilter, SyncState

log = logging.getLogger("closeout.smoke")

T = TypeVar("T")

DEMO_SECONDS = 3.0  # how long the demo runs at least, after the window shows
STEP_TIMEOUT = 45.0  # the longest any one step may take before the run fails
DEMO_RATE = "600"  # closes per minute, unless CLOSEOUT_DEMO_RATE says otherwise
KEEP_ENV = "CLOSEOUT_SMOKE_KEEP"  # set it to keep the temporary home (with its log) for a look afterwards
FAILED = "closeout --smoke-test failed:"
# Qt messages that say nothing about Closeout, dropped so a clean run has a clean stderr (as in pytest's
# qt_log_ignore): the offscreen platform says this once per window.
QT_NOISE = ("This plugin does not support propagateSizeHints()",)


class SmokeFailure(Exception):
    """A check did not pass; the message is the one line the run prints."""


def process_age_ms(started: float) -> tuple[float, str]:
    """Milliseconds since the process began, and which clock said so.

    Linux: the kernel's start time of this process (/proc/self/stat, 10 ms ticks) against CLOCK_BOOTTIME, so
    the bootloader, the interpreter's own start and every import count ("proc_starttime"). Elsewhere, or if
    /proc looks wrong: time.monotonic() since `started`, which the entry script takes once its own imports
    (Qt's included) are done, so it leaves out the interpreter's start ("after_entry_imports").
    """
    fallback = (time.monotonic() - started) * 1000
    age_s = portable.process_age_s()
    if age_s is None:
        return fallback, "after_entry_imports"
    age = age_s * 1000
    if fallback - 20 <= age <= fallback + 60_000:  # it began earlier, by a tick of rounding; a minute more is wrong
        return age, "proc_starttime"
    return fallback, "after_entry_imports"


def app_version() -> str | None:
    """Closeout's version from its package metadata (the bundle carries it too), or None if it is missing."""
    import importlib.metadata  # here: 30 ms that start-up need not pay

    try:
        return importlib.metadata.version("closeout")
    except importlib.metadata.PackageNotFoundError:
        return None


@contextlib.contextmanager
def isolated_environment() -> Iterator[Path]:
    """A fresh temporary CLOSEOUT_HOME, offscreen Qt, no OS keyring and a busy demo; all undone afterwards.

    Every other CLOSEOUT_* variable is cleared, so a developer's token, database URL or webhook port can
    neither leak into the run nor be touched by it.
    """
    saved = dict(os.environ)
    home = Path(tempfile.mkdtemp(prefix="closeout-smoke-"))
    for name in list(os.environ):
        if name.startswith("CLOSEOUT_") and name not in ("CLOSEOUT_DEMO_RATE", KEEP_ENV):
            del os.environ[name]
    os.environ["CLOSEOUT_HOME"] = str(home)
    os.environ.setdefault("CLOSEOUT_DEMO_RATE", DEMO_RATE)
    os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")
    os.environ["PYTHON_KEYRING_BACKEND"] = "keyring.backends.null.Keyring"
    with warnings.catch_warnings():
        if not sys.warnoptions:
            warnings.simplefilter("default")  # show every warning (once per place), so the caller's check sees it
        try:
            yield home
        finally:
            _release_log_files(home)
            os.environ.clear()
            os.environ.update(saved)
            if os.environ.get(KEEP_ENV):
                sys.stderr.write(f"closeout --smoke-test: kept {home}\n")
            else:
                shutil.rmtree(home, ignore_errors=True)


def _release_log_files(home: Path) -> None:
    """Close and detach the log handlers writing under `home`, so the folder can go."""
    root = logging.getLogger()
    for handler in list(root.handlers):
        filename = getattr(handler, "baseFilename", None)
        if filename and Path(filename).is_relative_to(home):
            root.removeHandler(handler)
            handler.close()


def qt_messages(kind: QtMsgType, context: QMessageLogContext, message: str) -> None:
    """Write Qt's messages to stderr as Qt would, less the known noise (installed for the smoke run only)."""
    if message not in QT_NOISE:
        sys.stderr.write(message + "\n")


class ErrorCounter(logging.Handler):
    """Counts ERROR records (an uncaught exception in a slot or task is logged as one) so the run can fail."""

    def __init__(self) -> None:
        super().__init__(logging.ERROR)
        self.first: str | None = None
        self.count = 0

    def emit(self, record: logging.LogRecord) -> None:
        """Count the record and keep the first one's message."""
        self.count += 1
        if self.first is None:
            error = record.exc_info[1] if record.exc_info else None
            self.first = record.getMessage() + (f": {type(error).__name__}: {error}" if error else "")


@dataclass(frozen=True, slots=True)
class Counts:
    """What the database holds, read through the facade (before the close and after the reopen)."""

    history: int
    unassigned: int
    workflows: int
    closes: int


async def counts(supervisor: Supervisor) -> Counts:
    """Count the history, the synced unassignments a workflow made, the workflows and the closes."""
    synced = HistoryFilter(source=ChangeSource.WORKFLOW, sync_state=SyncState.SYNCED)
    unassigned = 0
    after: Cursor | None = None
    while True:
        page = await supervisor.history_service.history_page(synced, after, limit=1000)
        unassigned += sum(1 for change in page.rows if change.to_agent_id is None)
        if page.next is None:
            break
        after = page.next
    return Counts(
        history=await supervisor.history_service.history_count(HistoryFilter()),
        unassigned=unassigned,
        workflows=len(await supervisor.workflow_service.workflows()),
        closes=len(await supervisor.queue_service.queue(limit=1_000_000)),
    )


async def wait_for(what: str, check: Callable[[], Awaitable[T | None]], timeout: float = STEP_TIMEOUT) -> T:
    """Poll `check` every 100 ms until it returns something other than None; fail naming `what` after `timeout`."""
    deadline = time.monotonic() + timeout
    while (result := await check()) is None:
        if time.monotonic() > deadline:
            raise SmokeFailure(f"timed out after {timeout:g} s waiting for {what}")
        await asyncio.sleep(0.1)
    return result


def chart_drawn(chart: Any) -> bool:
    """True when the per-day chart has bars and a workflow-coloured bar shows in its rendered pixels."""
    from ui.widgets.charts import source_color

    if not any(chart.totals.values()):
        return False
    image = chart.grab().toImage()
    bar = source_color(ChangeSource.WORKFLOW.value, chart.palette()).rgb()
    return any(image.pixel(x, y) == bar for x in range(0, image.width(), 3) for y in range(0, image.height(), 3))


def check_icu() -> None:
    """Swedish collation puts "ö" after "z" (root order, beside "o"): Qt reads ICU's data, which build.spec trims."""
    from PySide6.QtCore import QCollator, QLocale

    if QCollator(QLocale("sv_SE")).compare("ö", "z") <= 0:
        raise SmokeFailure("ICU's collation data is missing or unreadable (Swedish sorts ö before z)")


async def session(app: QApplication, args: argparse.Namespace) -> int:
    """The `--smoke-test` session for `ui.__main__.main`: runs the checks, prints the JSON line or the failure."""
    started = float(getattr(args, "started", time.monotonic()))
    errors = ErrorCounter()
    logging.getLogger().addHandler(errors)
    previous = qInstallMessageHandler(qt_messages)
    try:
        report = await _run(started, errors)
    except SmokeFailure as exc:
        log.info("smoke test failed: %s", exc)
        sys.stderr.write(f"{FAILED} {exc}\n")
        return 1
    except Exception as exc:
        log.info("smoke test crashed", exc_info=True)  # the traceback goes to the log file only (see KEEP_ENV)
        sys.stderr.write(f"{FAILED} {type(exc).__name__}: {exc}\n")
        return 1
    finally:
        qInstallMessageHandler(previous)
        logging.getLogger().removeHandler(errors)
    sys.stdout.write(json.dumps(report) + "\n")
    sys.stdout.flush()
    return 0


async def _run(started: float, errors: ErrorCounter) -> dict[str, Any]:
    from ui.compat import nullable
    from ui.main_window import HISTORY, MainWindow
    from ui.widgets.charts import PerDayChart

    parts = {"to_session_ms": process_age_ms(started)[0]}  # interpreter, imports, QApplication
    mark = time.monotonic()
    supervisor = Supervisor.prepare(demo=True)  # as the app starts: the window first, then the database
    try:
        window = MainWindow(supervisor)
        parts["window_ms"], mark = (time.monotonic() - mark) * 1000, time.monotonic()
        window.show()
        deadline = time.monotonic() + STEP_TIMEOUT
        while not ((handle := nullable(window.windowHandle())) is not None and handle.isExposed()):  # on screen
            if time.monotonic() > deadline:
                raise SmokeFailure("the main window never appeared")
            await asyncio.sleep(0.002)
        parts["show_ms"] = (time.monotonic() - mark) * 1000
        startup_ms, clock = process_age_ms(started)
        shown_at = mark = time.monotonic()
        try:
            await supervisor.connect()
            parts["open_ms"] = (time.monotonic() - mark) * 1000  # the database (created if new), client, sync
            await supervisor.start()
            window.start()

            async def unassigned_enough() -> int | None:
                synced = HistoryFilter(source=ChangeSource.WORKFLOW, sync_state=SyncState.SYNCED)
                count = await supervisor.history_service.history_count(synced)
                return count if count and time.monotonic() - shown_at >= DEMO_SECONDS else None

            await wait_for("the demo's workflow to unassign a contact", unassigned_enough)
            window.show_page(HISTORY)

            async def charts() -> bool | None:
                found = window.history.findChildren(PerDayChart)
                return True if found and chart_drawn(found[0]) else None

            await wait_for("the History charts to draw", charts)
        finally:
            window.close()
            await window.shutdown()
        # Stop every writer, then let the writer thread finish what is queued, so the counts are final.
        await supervisor.settle()
        before = await counts(supervisor)
    finally:
        await supervisor.close()
    if before.unassigned < 1:
        raise SmokeFailure(f"the engine unassigned no contact (history: {asdict(before)})")

    reopened = await Supervisor.open(demo=True)
    try:
        after = await counts(reopened)
    finally:
        await reopened.close()
    if after != before:
        raise SmokeFailure(f"the database did not round-trip: {asdict(before)} before closing, {asdict(after)} after")
    check_icu()
    if errors.count:
        raise SmokeFailure(f"{errors.count} error(s) logged; the first: {errors.first}")
    return {
        "startup_ms": round(startup_ms),
        "startup_clock": clock,
        "startup_parts": {name: round(ms) for name, ms in parts.items()},
        "unassigned": before.unassigned,
        "rss_mb": round(portable.peak_rss_mb(), 1),
        "history": before.history,
        "closes": before.closes,
        "workflows": before.workflows,
        "charts": True,
        "frozen": bool(getattr(sys, "frozen", False)),
        "version": app_version(),
        "postgres_driver": postgres_driver(),
        "seconds": round(time.monotonic() - started, 2),
    }
