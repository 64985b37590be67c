"""A token the platform rejects while `sync` runs is said in one line, never waited on in silence."""

from __future__ import annotations

import signal
import time
from pathlib import Path

from tests.loopback import LoopbackFake, cli_env, login, run_cli, start_cli


def test_until_idle_exits_3_with_one_line_when_the_token_is_rejected(fake: LoopbackFake, tmp_path: Path) -> None:
    env = cli_env(tmp_path / "home", fake, token="not-the-token")
    result = run_cli(env, "sync", "--until-idle", "--idle-seconds", "30", timeout=60)
    assert result.returncode == 3
    assert result.stderr.strip().splitlines() == [
        "the platform rejected the token: The platform answered 401: UN_AUTHORIZED."
    ]


def test_forever_says_the_token_was_rejected_and_picks_up_a_new_one(fake: LoopbackFake, tmp_path: Path) -> None:
    env = cli_env(tmp_path / "home", fake)
    del env["CLOSEOUT_API_TOKEN"]  # the stored token, as after `closeout-cli login`
    login(env, "not-the-token")
    sync = start_cli(env, "sync", "--forever", "--poll-seconds", "3600")
    try:
        assert sync.stderr is not None
        assert sync.stderr.readline() == f"started as the runner: this process sends and polls (pid {sync.pid})\n"
        assert sync.stderr.readline() == (
            "the platform rejected the token (The platform answered 401: UN_AUTHORIZED); waiting for a new one "
            "(run `closeout-cli login`, then `kill -HUP` this process or wait a few seconds)\n"
        )
        status = run_cli(env, "status")
        assert "sending_state  Token rejected: The platform answered 401: UN_AUTHORIZED." in status.stdout
        login(env, fake.token)
        assert sync.stderr.readline() == "a new token was stored; sending again\n"
        deadline = time.monotonic() + 30
        while "sending_state  Online" not in run_cli(env, "status").stdout:
            assert time.monotonic() < deadline, "the runner never came back online"
            time.sleep(0.2)
    finally:
        sync.send_signal(signal.SIGTERM)
        sync.communicate(timeout=30)
    assert sync.returncode == 0
