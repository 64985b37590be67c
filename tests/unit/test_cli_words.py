"""The CLI's words: columns cut at word boundaries, log lines without tracebacks, bounds from the declarations."""

from __future__ import annotations

import datetime as dt
import logging
import sqlite3
import time
from pathlib import Path

import pytest
from sqlalchemy.exc import OperationalError

from app.bootstrap import Supervisor
from app.cli import _OneLineFormatter
from app.commands import CommandUsageError, column_width, fit, parse_when
from app.domain.errors import ConfigError, DiskFull, StorageError
from app.settings import POLL_SECONDS, WEBHOOK_PORT, Settings
from app.storage.database import translate


@pytest.mark.parametrize(
    ("text", "width", "shown"),
    [
        ("Billing", 10, "Billing   "),
        ("Billing and payments follow-up", 24, "Billing and payments…   "),
        ("Refund requested", 12, "Refund…     "),
        ("Supercalifragilistic", 8, "Superca…"),
        ("Needs a callback", 16, "Needs a callback"),
    ],
)
def test_fit_cuts_at_a_word_boundary_with_an_ellipsis(text: str, width: int, shown: str) -> None:
    assert fit(text, width) == shown
    assert len(fit(text, width)) == width


def test_a_column_is_as_wide_as_its_longest_value_up_to_a_cap() -> None:
    assert column_width(["Billing", "Sales"], 24) == 7
    assert column_width(["x" * 40], 24) == 24
    assert column_width([], 24) == 1


def _record(exc: BaseException) -> logging.LogRecord:
    """A record as `log.error("background task %s failed", "drain", exc_info=exc)` makes it."""
    logger = logging.getLogger("closeout.test")
    info = (type(exc), exc, exc.__traceback__)
    return logger.makeRecord(logger.name, logging.ERROR, __file__, 1, "background task %s failed", ("drain",), info)


def test_log_lines_carry_no_traceback_without_debug() -> None:
    record = _record(DiskFull("The disk holding /x is full."))
    line = _OneLineFormatter(debug=False).format(record)
    assert (
        line
        == f"ERROR closeout.test: background task drain failed (The disk holding /x is full. {DiskFull.default_action})"
    )
    assert _OneLineFormatter(debug=True).format(_record(ValueError("boom"))).endswith("failed\nValueError: boom")
    assert _OneLineFormatter(debug=False).format(_record(ValueError("boom"))).endswith("(boom (ValueError))")


def test_a_disk_io_error_is_said_in_words() -> None:
    raw = OperationalError("INSERT INTO outbox ...", {}, sqlite3.OperationalError("disk I/O error"))
    error = translate(raw, "/data/closeout.sqlite3")
    assert isinstance(error, StorageError)
    assert "could not write to the disk holding /data/closeout.sqlite3" in str(error)
    assert "sqlite3.OperationalError" not in str(error) and "OperationalError" not in str(error)


@pytest.mark.parametrize("raw", ["0", "4", "86401", "nan", "inf", "-5", "ten"])
def test_the_poll_interval_is_bounded_as_declared(raw: str, monkeypatch: pytest.MonkeyPatch) -> None:
    with pytest.raises(ConfigError):
        POLL_SECONDS.parse(raw)
    monkeypatch.setenv("CLOSEOUT_POLL_SECONDS", raw)
    with pytest.raises(ConfigError):
        Settings().get(POLL_SECONDS)


@pytest.mark.parametrize(("poll_seconds", "webhook_port"), [(0.0, None), (float("nan"), None), (60.0, 70_000)])
def test_the_supervisor_refuses_values_outside_the_declared_bounds(
    poll_seconds: float, webhook_port: int | None, tmp_path: Path
) -> None:
    settings = Settings(path=tmp_path / "settings.json")
    with pytest.raises(ConfigError) as caught:
        Supervisor.prepare(settings=settings, demo=True, poll_seconds=poll_seconds, webhook_port=webhook_port)
    assert caught.value.message.startswith((POLL_SECONDS.label, WEBHOOK_PORT.label))


def test_the_cli_logs_through_the_one_line_formatter() -> None:
    from app.cli import _configure_logging

    root = logging.getLogger()
    kept, level = list(root.handlers), root.level
    try:
        _configure_logging(debug=False)
        (handler,) = root.handlers
        assert isinstance(handler.formatter, _OneLineFormatter) and not handler.formatter.debug
    finally:
        root.handlers[:] = kept
        root.setLevel(level)


@pytest.mark.parametrize("raw", ["nan", "inf", "1e400", "-5", "99999999999d", "1e20"])
def test_a_time_outside_what_the_database_holds_is_a_usage_mistake(raw: str) -> None:
    with pytest.raises(CommandUsageError) as caught:
        parse_when(raw)
    assert "outside the times Closeout keeps" in str(caught.value)


def test_times_in_range_still_parse() -> None:
    assert parse_when("7d", now=1_800_000_000) == 1_800_000_000 - 7 * 86_400
    assert parse_when("1700000000") == 1_700_000_000


def test_a_date_means_local_midnight_on_either_side_of_a_dst_change(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("TZ", "America/New_York")
    time.tzset()
    try:
        assert parse_when("2026-11-01") == dt.datetime(2026, 11, 1, 4, tzinfo=dt.UTC).timestamp()  # EDT
        assert parse_when("2026-11-02") == dt.datetime(2026, 11, 2, 5, tzinfo=dt.UTC).timestamp()  # EST
    finally:
        monkeypatch.undo()
        time.tzset()


def test_a_library_that_exits_cannot_pass_off_its_code_as_the_clis(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    from app import cli, commands

    def exits(args: object) -> int:
        raise SystemExit(3)  # uvicorn does this when it cannot bind; 3 would read as "token rejected"

    monkeypatch.setattr(commands, "cmd_logout", exits)
    root = logging.getLogger()
    kept, level = list(root.handlers), root.level
    try:
        assert cli.main(["logout"]) == 1
    finally:
        root.handlers[:] = kept
        root.setLevel(level)
    assert "stopped by a library with exit status 3" in capsys.readouterr().err
    assert cli.main(["--help"]) == 0


def test_every_setting_but_the_signing_key_is_a_flag_described_by_its_declaration(
    capsys: pytest.CaptureFixture[str],
) -> None:
    from app import cli, commands
    from app.settings import ALL_SETTINGS

    assert cli.main(["--help"]) == 0
    global_help = " ".join(capsys.readouterr().out.split())
    assert cli.main(["sync", "--help"]) == 0
    sync_help = " ".join(capsys.readouterr().out.split())
    for setting in ALL_SETTINGS:
        if setting.secret:
            assert commands.setting_flag(setting) not in global_help
            continue
        shown = sync_help if setting in commands.SYNC_SETTINGS else global_help
        assert commands.setting_flag(setting) in shown, setting.key
        assert str(setting.env) in shown, setting.key
        if setting.maximum is not None:
            assert f"{setting.maximum:g})" in shown, setting.key


def test_a_global_setting_flag_is_in_force_for_the_command_and_checked_first(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    from app import cli, commands
    from app.settings import LEASE_SECONDS, TIME_ZONE

    for setting in (LEASE_SECONDS, TIME_ZONE):
        monkeypatch.delenv(str(setting.env), raising=False)
    args = cli.build_parser().parse_args(["--lease-seconds", "7.5", "--time-zone", "Europe/Berlin", "status"])
    commands.apply_global_settings(args)
    assert Settings().get(LEASE_SECONDS) == 7.5
    assert Settings().get(TIME_ZONE) == "Europe/Berlin"

    assert cli.main(["--time-zone", "Nowhere/Bogus", "status"]) == 2
    assert "--time-zone" in capsys.readouterr().err
    assert cli.main(["--request-timeout-s", "0", "status"]) == 2
    assert "Request timeout (s) must be at least 1, not 0." in capsys.readouterr().err
