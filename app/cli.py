"""`closeout-cli`: Closeout without a window, one subcommand per task.

Each subcommand is a `register_*` function that adds its parser and sets `run` to a function taking the
parsed arguments and returning the exit code; `build_parser` calls every registrar in `REGISTRARS`.
Errors are one line on stderr: exit 2 for a usage mistake, 3 for a rejected token, 4 for a platform that
cannot be reached, 1 for anything else, and a traceback only with `--debug` (log records too). The
global options are applied as the `CLOSEOUT_*` environment before the subcommand runs, so paths and
settings pick them up however deep they are read.
"""

from __future__ import annotations

import argparse
import asyncio
import logging
import os
import signal
import sys
import traceback
from collections.abc import Callable, Sequence
from typing import Any, NoReturn

from app import commands
from app.domain.errors import AuthRejected, CloseoutError, Offline

PROG = "closeout-cli"

Registrar = Callable[["argparse._SubParsersAction[Any]"], None]


class UsageError(Exception):
    """A mistake in the command line; exit code 2."""


class _Parser(argparse.ArgumentParser):
    """argparse that reports a usage mistake in one line instead of printing the usage block."""

    def error(self, message: str) -> NoReturn:
        raise UsageError(f"{message} (see `{self.prog} --help`)")


# -- fake-platform ---------------------------------------------------------------------------------------


def register_fake_platform(subparsers: argparse._SubParsersAction[Any]) -> None:
    """`fake-platform`: serve a fake respond.io workspace on loopback (its flags live in the fake's options)."""
    from app.platform.fake.options import add_arguments

    parser = subparsers.add_parser(
        "fake-platform",
        help="serve a fake respond.io workspace (for tests, benchmarks and trials)",
        description=(
            "Serve a fake respond.io Developer API v2 workspace until SIGINT or SIGTERM. Prints one line, "
            "'fake platform on http://HOST:PORT/v2 token=TOKEN'. The /_fake/ routes (log, faults, state, "
            "simulator) need no token."
        ),
    )
    add_arguments(parser)
    parser.set_defaults(run=run_fake_platform)


def run_fake_platform(args: argparse.Namespace) -> int:
    """Serve until a signal; the printed line is the only output."""
    from app.platform.fake import create_fake_platform
    from app.platform.fake.options import platform_options
    from app.platform.fake.server import FakeServer

    try:
        options = platform_options(args)
    except ValueError as exc:
        raise UsageError(str(exc)) from None
    token = options["token"]
    platform = create_fake_platform(**options)
    server = FakeServer(platform, args.host, args.port)

    def announce() -> None:
        sys.stdout.write(f"fake platform on {server.url} token={token}\n")
        sys.stdout.flush()

    def finish(signum: int, frame: object) -> None:
        server.request_stop()

    # uvicorn handles SIGINT/SIGTERM while serving and raises them again once it has stopped; these
    # handlers are what it restores, so that second delivery ends the command quietly with exit 0.
    previous = {sig: signal.signal(sig, finish) for sig in (signal.SIGINT, signal.SIGTERM)}
    try:
        asyncio.run(server.serve(on_started=announce))
    finally:
        for sig, handler in previous.items():
            signal.signal(sig, handler)
    return 0


REGISTRARS: list[Registrar] = [commands.register, register_fake_platform]
"""Every subcommand, in the order `--help` lists them."""


def build_parser() -> argparse.ArgumentParser:
    """The whole command line: global options, then one subcommand."""
    parser = _Parser(prog=PROG, description="Closeout without a window.")
    parser.add_argument("--home", metavar="DIR", help="keep every Closeout file under DIR (CLOSEOUT_HOME)")
    parser.add_argument("--demo", action="store_true", help="use the built-in demo workspace")
    parser.add_argument("--debug", action="store_true", help="log debug detail and show tracebacks")
    commands.add_setting_flags(parser, commands.GLOBAL_SETTINGS)
    subparsers = parser.add_subparsers(dest="command", metavar="COMMAND")
    for register in REGISTRARS:
        register(subparsers)
    return parser


def _apply_globals(args: argparse.Namespace) -> None:
    if args.home:
        os.environ["CLOSEOUT_HOME"] = args.home
    commands.apply_global_settings(args)


def _fail(message: str) -> None:
    sys.stderr.write(f"{PROG}: {message}\n")
    sys.stderr.flush()


class _OneLineFormatter(logging.Formatter):
    """Log records as one line each: the traceback a record carries is shown only with `--debug`."""

    def __init__(self, debug: bool) -> None:
        super().__init__("%(levelname)s %(name)s: %(message)s")
        self.debug = debug

    def format(self, record: logging.LogRecord) -> str:
        if self.debug or not (record.exc_info or record.stack_info):
            return super().format(record)
        error = record.exc_info[1] if record.exc_info else None
        quiet = logging.makeLogRecord({**record.__dict__, "exc_info": None, "exc_text": None, "stack_info": None})
        line = super().format(quiet)
        return f"{line} ({_words(error)})" if error is not None else line


def _configure_logging(debug: bool) -> None:
    handler = logging.StreamHandler(sys.stderr)
    handler.setFormatter(_OneLineFormatter(debug))
    logging.basicConfig(level=logging.DEBUG if debug else logging.WARNING, handlers=[handler], force=True)


def _words(exc: BaseException) -> str:
    """An error as a person would read it: the words of a CloseoutError, else the message and its kind."""
    if isinstance(exc, CloseoutError):
        return str(exc)
    return f"{exc} ({type(exc).__name__})" if str(exc) else type(exc).__name__


def main(argv: Sequence[str] | None = None) -> int:
    """Run one subcommand; returns the exit code."""
    parser = build_parser()
    argv = list(sys.argv[1:] if argv is None else argv)
    debug = "--debug" in argv
    try:
        try:
            args = parser.parse_args(argv)
        except SystemExit as exc:  # --help ends here
            return exc.code if isinstance(exc.code, int) else 0
        if getattr(args, "run", None) is None:
            raise UsageError(f"choose a command (see `{PROG} --help`)")
        _configure_logging(args.debug)
        _apply_globals(args)
        code: int = args.run(args)
        return code
    except (UsageError, commands.CommandUsageError) as exc:
        _fail(str(exc))
        return 2
    except KeyboardInterrupt:
        return 130
    except SystemExit as exc:  # a library that tries to end the process must not pass off its code as ours
        if debug:
            traceback.print_exc()
        _fail(f"stopped by a library with exit status {exc.code!r}; run again with --debug for details")
        return 1
    except CloseoutError as exc:
        if debug:
            traceback.print_exc()
        _fail(str(exc))
        if isinstance(exc, AuthRejected):
            return commands.EXIT_TOKEN_REJECTED
        return commands.EXIT_OFFLINE if isinstance(exc, Offline) else 1
    except OSError as exc:
        if debug:
            traceback.print_exc()
        words = exc.strerror or str(exc) or type(exc).__name__
        _fail(f"{exc.filename}: {words}" if exc.filename else words)
        return 1
    except Exception as exc:
        if debug:
            traceback.print_exc()
        _fail(f"unexpected error: {_words(exc)}; run again with --debug for the details")
        return 1


if __name__ == "__main__":
    sys.exit(main())
