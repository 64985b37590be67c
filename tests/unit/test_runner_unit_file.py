"""resources/closeout-runner.service is a unit systemd accepts, and it starts the real headless runner command."""

from __future__ import annotations

import configparser
import shlex
import shutil
import subprocess
import sys
import tomllib
from pathlib import Path

import pytest

from app.cli import build_parser

ROOT = Path(__file__).resolve().parents[2]
UNIT = ROOT / "resources" / "closeout-runner.service"


def _unit() -> configparser.ConfigParser:
    parser = configparser.ConfigParser(interpolation=None, strict=True)
    parser.optionxform = str  # type: ignore[assignment,method-assign]  # systemd keys are case-sensitive
    parser.read_string(UNIT.read_text(encoding="utf-8"), source=str(UNIT))
    return parser


def test_the_unit_runs_sync_forever_as_a_dedicated_user_restarting_on_failure() -> None:
    unit = _unit()
    assert unit.sections() == ["Unit", "Service", "Install"]
    service = unit["Service"]
    assert service["User"] == service["Group"] == "closeout"
    assert service["Restart"] == "on-failure"
    assert service["EnvironmentFile"] == "/etc/closeout/runner.env"
    assert service["StandardError"] == "journal"
    assert service["ExecReload"] == "/bin/kill -HUP $MAINPID"
    executable, *argv = shlex.split(service["ExecStart"])
    scripts = tomllib.loads((ROOT / "pyproject.toml").read_text(encoding="utf-8"))["project"]["scripts"]
    assert Path(executable).name in scripts
    args = build_parser().parse_args(argv)
    assert (args.command, args.forever, args.once, args.until_idle) == ("sync", True, False, False)
    assert unit["Install"]["WantedBy"] == "multi-user.target"


@pytest.mark.skipif(shutil.which("systemd-analyze") is None, reason="systemd-analyze is not installed here")
def test_systemd_analyze_verifies_the_unit_without_a_warning(tmp_path: Path) -> None:
    # The unit names where the lead installs Closeout; verify checks that the program exists, so point it at this one.
    installed = Path(sys.executable).with_name("closeout-cli")
    assert installed.exists(), "install the project (pip install -e .) so the closeout-cli script exists"
    text = UNIT.read_text(encoding="utf-8").replace("/opt/closeout/bin/closeout-cli", str(installed))
    copy = tmp_path / UNIT.name
    copy.write_text(text, encoding="utf-8")
    result = subprocess.run(
        ["systemd-analyze", "verify", str(copy)], capture_output=True, text=True, timeout=60, check=False
    )
    assert result.returncode == 0, result.stderr
    assert [line for line in result.stderr.splitlines() if UNIT.name in line] == []
