"""Every exit code the README documents, from real `closeout-cli` processes, each with its one line in words."""

from __future__ import annotations

import json
import socket
import subprocess
import sys
from pathlib import Path

import pytest

from tests.loopback import ROOT, LoopbackFake, cli_env, free_port, run_cli

EXIT_DONE, EXIT_ERROR, EXIT_USAGE, EXIT_TOKEN_REJECTED, EXIT_OFFLINE = 0, 1, 2, 3, 4
HUGE = "99999999999999999999999"


def _exits(result: subprocess.CompletedProcess[str], code: int, *words: str) -> str:
    """Assert the exit code, one line on stderr holding `words`, and no traceback; returns stderr."""
    assert result.returncode == code, (result.returncode, result.stdout, result.stderr)
    assert "Traceback" not in result.stderr + result.stdout
    lines = [line for line in result.stderr.splitlines() if line.strip()]
    assert len(lines) == 1, result.stderr
    for word in words:
        assert word in lines[0], lines[0]
    return lines[0]


def _ok(result: subprocess.CompletedProcess[str]) -> str:
    assert result.returncode == EXIT_DONE, result.stderr
    assert "Traceback" not in result.stderr
    return result.stdout


def _nobody_at(home: Path, token: str = "any-token") -> dict[str, str]:
    """The environment of a lead whose API URL points where nothing answers."""
    env = cli_env(home, None)
    env["CLOSEOUT_API_URL"] = f"http://127.0.0.1:{free_port()}/v2"
    env["CLOSEOUT_API_TOKEN"] = token
    return env


@pytest.mark.parametrize(
    ("args", "words"),
    [
        (("undo", HUGE), ["run_id", "is not an id"]),
        (("history", "--agent", HUGE), ["--agent", "is not an id"]),
        (("publish", "-1"), ["is not an id"]),
        (("queue", "--limit", "0"), ["--limit", "is not a number of rows (a whole number from 1 to 1000000)"]),
        (("sync", "--once", "--webhook-port", "70000"), ["Webhook port must be at most 65535"]),
        (("sync", "--forever", "--poll-seconds", "0"), ["Poll interval (s) must be at least 5"]),
        (("sync", "--until-idle", "--idle-seconds", "nan"), ["--idle-seconds"]),
        (("--db-url", "not a url", "status"), ["'not a url' is not a database URL"]),
        (("history", "--outcome", "bogus"), ["pending, synced, failed, undone, skipped"]),
        (("history", "--source", "bogus"), ["workflow, undo, platform"]),
        (("runs", "--outcome", "bogus"), ["done, skipped, failed, waiting"]),
        (("history", "--since", "yesterday-ish"), ["is not a time"]),
        ((), ["choose a command"]),
    ],
)
def test_usage_mistakes_exit_2_in_words(tmp_path: Path, args: tuple[str, ...], words: list[str]) -> None:
    _exits(run_cli(_nobody_at(tmp_path / "home"), *args), EXIT_USAGE, *words)


def test_a_bad_database_url_in_the_environment_is_an_error_in_words(tmp_path: Path) -> None:
    env = _nobody_at(tmp_path / "home")
    env["CLOSEOUT_DB_URL"] = "not a url"
    _exits(run_cli(env, "status"), EXIT_ERROR, "'not a url' is not a database URL")


def test_sync_once_that_reaches_nothing_says_so_and_exits_4(tmp_path: Path) -> None:
    env = _nobody_at(tmp_path / "home")
    line = _exits(run_cli(env, "sync", "--once"), EXIT_OFFLINE, "could not sync with", env["CLOSEOUT_API_URL"])
    assert "nothing is queued" in line and "Cannot reach the platform" in line


def test_login_that_reaches_nothing_exits_4_and_stores_nothing(tmp_path: Path) -> None:
    env = _nobody_at(tmp_path / "home")
    del env["CLOSEOUT_API_TOKEN"]
    _exits(_login(env, "a-token"), EXIT_OFFLINE, "Cannot reach the platform", "Check the API URL")
    assert json.loads(_ok(run_cli(env, "status", "--json")))["token"] == "not set"


def test_login_with_a_rejected_token_exits_3(fake: LoopbackFake, tmp_path: Path) -> None:
    env = cli_env(tmp_path / "home", fake)
    del env["CLOSEOUT_API_TOKEN"]
    line = _exits(_login(env, "not-the-token"), EXIT_TOKEN_REJECTED, "rejected")
    assert "not-the-token" not in line
    assert "stored in" in _ok(_login(env, fake.token))


def test_the_demo_syncs_once_against_its_own_workspace(tmp_path: Path) -> None:
    env = cli_env(tmp_path / "home", None)
    _ok(run_cli(env, "--demo", "sync", "--once"))
    status = json.loads(_ok(run_cli(env, "--demo", "status", "--json")))
    assert status["mode"] == "demo" and status["last_sync"] is not None
    assert status["published"] == 1 and status["outbox_depth"] == 0


def test_queued_work_that_cannot_be_sent_exits_4_and_says_how_much(fake: LoopbackFake, tmp_path: Path) -> None:
    home = tmp_path / "home"
    env = cli_env(home, fake)
    _ok(run_cli(env, "use-template", "unassign-after-close", "--publish"))
    _ok(run_cli(env, "sync", "--once"))
    run_id = json.loads(_ok(run_cli(env, "runs", "--json", "--outcome", "done")))[0]["id"]
    assert _ok(run_cli(env, "undo", str(run_id))).startswith("queued run ")

    offline = _nobody_at(home, token=fake.token)
    line = _exits(run_cli(offline, "sync", "--once"), EXIT_OFFLINE, "could not sync with")
    assert "1 commands stay queued" in line
    assert json.loads(_ok(run_cli(offline, "status", "--json")))["outbox_depth"] == 1
    _ok(run_cli(env, "sync", "--once"))
    assert json.loads(_ok(run_cli(env, "status", "--json")))["outbox_depth"] == 0


def test_errors_exit_1_in_one_line(fake: LoopbackFake, tmp_path: Path) -> None:
    env = cli_env(tmp_path / "home", fake)
    _exits(run_cli(env, "undo", "424242"), EXIT_ERROR)
    _ok(run_cli(env, "sync", "--once"))  # the cache now knows the workspace's users and teams
    refused = run_cli(env, "use-template", "round-robin-online", "--set", "team=999", "--publish")
    _exits(refused, EXIT_ERROR, "there is no team 999 in this workspace")
    assert json.loads(_ok(run_cli(env, "workflows", "--json"))) == []
    broken = tmp_path / "wf.json"
    broken.write_text('{"format": "closeout.workflow", "version": true, "name": "x"}')
    _exits(run_cli(env, "import", str(broken)), EXIT_ERROR, "format version must be a whole number")


def test_a_webhook_port_in_use_exits_1_with_one_line(fake: LoopbackFake, tmp_path: Path) -> None:
    env = cli_env(tmp_path / "home", fake)
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        result = run_cli(env, "sync", "--until-idle", "--webhook-port", str(port), "--poll-seconds", "3600")
    _exits(result, EXIT_ERROR, f"127.0.0.1:{port}", "another program is already listening there")


def test_history_and_runs_name_contacts_agents_and_workflows(fake: LoopbackFake, tmp_path: Path) -> None:
    env = cli_env(tmp_path / "home", fake)
    _ok(run_cli(env, "use-template", "unassign-after-close", "--publish"))
    _ok(run_cli(env, "sync", "--once"))
    queue = {row["contact_id"]: row for row in json.loads(_ok(run_cli(env, "queue", "--json")))}
    lines = _ok(run_cli(env, "history", "--limit", "5")).splitlines()
    history = json.loads(_ok(run_cli(env, "history", "--json", "--limit", "5")))
    assert lines[-1].endswith("changes") and len(lines) == len(history) + 1
    for line, change in zip(lines, history, strict=False):
        assert queue[change["contact_id"]]["contact_name"][:20] in line
        assert queue[change["contact_id"]]["assignee_at_close_name"][:16] in line
        assert f"contact {change['contact_id']}" not in line
    runs = json.loads(_ok(run_cli(env, "runs", "--json", "--limit", "5")))
    for line, run in zip(_ok(run_cli(env, "runs", "--limit", "5")).splitlines(), runs, strict=True):
        assert "Assignment: Unassign After Conversation Closes" in line
        assert queue[run["contact_id"]]["contact_name"][:20] in line


def _login(env: dict[str, str], token: str) -> subprocess.CompletedProcess[str]:
    """`closeout-cli login --stdin` with `token` on stdin; the token goes to a file, never a real keyring."""
    env = {**env, "PYTHON_KEYRING_BACKEND": "keyring.backends.fail.Keyring"}
    return subprocess.run(
        [sys.executable, "-m", "app.cli", "login", "--stdin"],
        input=f"{token}\n",
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
    )
