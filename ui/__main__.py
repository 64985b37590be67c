"""Closeout's GUI entry point (composition root): the QApplication, the qasync loop, the excepthook, the window.

`main` parses the command line, then runs one *session* coroutine on the qasync loop. The interactive
session is the default; `--smoke-test` runs `ui.smoke`'s instead, and a caller can pass another.
"""

from __future__ import annotations

import argparse
import asyncio
import logging
import logging.handlers
import os
import sys
import time
import traceback
from collections.abc import Callable, Coroutine
from types import TracebackType
from typing import Any

os.environ.setdefault("QT_API", "pyside6")

import qasync
from PySide6.QtWidgets import QApplication, QMessageBox

log = logging.getLogger("closeout")

Session = Callable[[QApplication, argparse.Namespace], Coroutine[Any, Any, int]]
STARTED = time.monotonic()
MISSING_LIBRARIES = 2  # the exit code when the system lacks a library Qt's window needs


def build_parser() -> argparse.ArgumentParser:
    """The command line; `--home` and `--demo` apply before anything reads a path or a setting."""
    parser = argparse.ArgumentParser(prog="closeout", description="Closeout: a desktop supervisor for respond.io.")
    parser.add_argument("--demo", action="store_true", help="run the built-in demo workspace even if a token is set")
    parser.add_argument("--home", metavar="DIR", help="keep every Closeout file under DIR (sets CLOSEOUT_HOME)")
    parser.add_argument(
        "--smoke-test",
        action="store_true",
        help="run the demo offscreen in a temporary home for a few seconds, check it, print one JSON line, exit",
    )
    parser.set_defaults(started=STARTED)
    return parser


def setup_logging() -> str:
    """Log to stderr and to a rotating file in the log folder; returns where the file is, in words."""
    from app import paths

    root = logging.getLogger()
    root.setLevel(logging.INFO)
    stderr = logging.StreamHandler()
    stderr.setLevel(logging.WARNING)
    stderr.setFormatter(logging.Formatter("%(asctime)s %(levelname)s %(name)s: %(message)s"))
    root.addHandler(stderr)
    try:
        folder = paths.ensure_dir(paths.log_dir())
        handler = logging.handlers.RotatingFileHandler(folder / "closeout.log", maxBytes=2_000_000, backupCount=3)
    except OSError:
        return "The log could not be written to disk."
    handler.setFormatter(logging.Formatter("%(asctime)s %(levelname)s %(name)s: %(message)s"))
    root.addHandler(handler)
    return f"The log is in {folder / 'closeout.log'}."


Hook = Callable[[type[BaseException], BaseException, TracebackType | None], None]


def make_excepthook(log_hint: str) -> Hook:
    """A hook that logs an uncaught exception (a slot's, a task's, the loop's) and shows it without blocking."""

    def hook(kind: type[BaseException], error: BaseException, tb: TracebackType | None) -> None:
        if issubclass(kind, KeyboardInterrupt | asyncio.CancelledError):
            return
        log.error("uncaught exception", exc_info=(kind, error, tb))
        details = "".join(traceback.format_exception(kind, error, tb))
        try:
            from ui.dialogs.error_dialog import ErrorDialog  # here: start-up need not pay for it

            ErrorDialog.ask(QApplication.activeWindow(), f"{kind.__name__}: {error}", details, log_hint)
        except Exception:  # the dialog itself failed: the log line above is what remains
            log.exception("could not show the error dialog")

    return hook


async def interactive(app: QApplication, args: argparse.Namespace) -> int:
    """Open the supervisor (the demo workspace when there is no token), show the window, run until it closes."""
    from app.bootstrap import Supervisor
    from app.domain.errors import CloseoutError
    from ui.main_window import MainWindow

    try:
        supervisor = Supervisor.prepare(demo=True if args.demo else None)
    except CloseoutError as exc:
        QMessageBox.critical(None, "Closeout cannot start", f"{exc.message}\n\n{exc.action}".strip())
        return 1
    try:
        # The window shows first; the database opens behind it, and each page loads once it is open.
        window = MainWindow(supervisor)
        window.show()
        log.info("window shown %.0f ms after start", (time.monotonic() - STARTED) * 1000)
        try:
            await supervisor.connect()
        except CloseoutError as exc:
            QMessageBox.critical(window, "Closeout cannot start", f"{exc.message}\n\n{exc.action}".strip())
            window.close()
            await window.shutdown()
            return 1
        await supervisor.start()
        window.start()
        await window.wait_closed()
        await window.shutdown()
    finally:
        await supervisor.close()
    return 0


def run(app: QApplication, session: Coroutine[Any, Any, int], hook: Hook | None = None) -> int:
    """Run `session` on a qasync loop over `app` and return its exit code; `hook` also gets the loop's errors."""
    with asyncio.Runner(loop_factory=lambda: qasync.QEventLoop(app)) as runner:
        if hook is not None:

            def loop_errors(loop: asyncio.AbstractEventLoop, context: dict[str, Any]) -> None:
                error = context.get("exception")
                if isinstance(error, BaseException):
                    hook(type(error), error, error.__traceback__)
                else:
                    log.error("asyncio: %s", context.get("message"))

            runner.get_loop().set_exception_handler(loop_errors)
        return runner.run(session)


def main(argv: list[str] | None = None, session: Session | None = None) -> int:
    """Start Closeout and return its exit code; `session` replaces the interactive one (e.g. a smoke test)."""
    args = build_parser().parse_args(sys.argv[1:] if argv is None else argv)
    if args.smoke_test:
        from ui import smoke

        with smoke.isolated_environment():  # before the QApplication: it sets the offscreen platform
            return start(args, session or smoke.session)
    if args.home:
        os.environ["CLOSEOUT_HOME"] = os.path.abspath(os.path.expanduser(args.home))
    return start(args, session or interactive)


def start(args: argparse.Namespace, session: Session) -> int:
    """Create the QApplication, logging and the excepthook, then run `session` to its exit code."""
    from ui import xcb_check
    from ui.collector import MainThreadCollector
    from ui.resources import app_icon

    if QApplication.instance() is None and (missing := xcb_check.check()) is not None:
        sys.stderr.write(missing + "\n")  # before Qt aborts the process with a message that names the wrong library
        return MISSING_LIBRARIES

    app = QApplication.instance() or QApplication(sys.argv[:1])
    assert isinstance(app, QApplication)
    app.setApplicationName("Closeout")
    app.setOrganizationName("Closeout")
    app.setWindowIcon(app_icon())
    app.setQuitOnLastWindowClosed(False)  # the session ends the loop, after the supervisor has closed
    hook = make_excepthook(setup_logging())
    sys.excepthook = hook
    collector = MainThreadCollector(app)  # Qt objects in cycles must be freed on this thread
    collector.start()
    try:
        return run(app, session(app, args), hook)
    finally:
        collector.stop()


if __name__ == "__main__":
    sys.exit(main())
