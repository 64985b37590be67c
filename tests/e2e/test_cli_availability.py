"""Availability from the command line, and Round Robin + Online Only assigning only to agents marked available."""

from __future__ import annotations

import datetime as dt
import json
from collections import Counter
from pathlib import Path
from typing import Any

from app.domain.availability import DAY_NAMES
from tests.loopback import SECRET, LoopbackFake, cli_env, run_cli, sync_until_idle


def _ok(result) -> str:  # type: ignore[no-untyped-def]
    assert result.returncode == 0, result.stderr
    assert "Traceback" not in result.stderr
    return str(result.stdout)


def _agents(env: dict[str, str]) -> list[dict[str, Any]]:
    agents: list[dict[str, Any]] = json.loads(_ok(run_cli(env, "agents", "--json")))
    return agents


def test_round_robin_online_only_assigns_to_the_agents_marked_available(
    fake_with_webhooks: tuple[LoopbackFake, int], tmp_path: Path
) -> None:
    fake, port = fake_with_webhooks
    env = cli_env(tmp_path / "home", fake)
    _ok(run_cli(env, "sync", "--once"))  # fills the cache with the workspace's agents
    agents = _agents(env)
    assert agents and all(a["presence"] is None and a["available_now"] is False for a in agents)
    teams = Counter(a["team_id"] for a in agents if a["team_id"] is not None)
    team_id = next(team for team, size in teams.most_common() if size >= 2)
    first, second = [a for a in agents if a["team_id"] == team_id][:2]

    assert "is available" in _ok(run_cli(env, "availability", "set", first["email"], "available"))
    # Hours that exclude now: tomorrow only, so the second agent is set but not available at this moment.
    tomorrow = DAY_NAMES[(dt.datetime.now().weekday() + 1) % 7]
    _ok(run_cli(env, "hours", "set", str(second["id"]), f"{tomorrow} 09:00-17:00"))
    by_id = {a["id"]: a for a in _agents(env)}
    assert (by_id[first["id"]]["presence"], by_id[first["id"]]["available_now"]) == ("available", True)
    assert by_id[second["id"]]["hours"] == f"{tomorrow} 09:00-17:00"
    assert (by_id[second["id"]]["presence"], by_id[second["id"]]["available_now"]) == ("available", False)
    text = _ok(run_cli(env, "agents"))
    assert "not set" in text and "available now" in text
    lines = {int(line.split()[0]): line for line in text.splitlines()[:-2]}
    assert all(a["name"] in lines[a["id"]] and (a["team"] or "-") in lines[a["id"]] for a in agents)

    _ok(run_cli(env, "use-template", "round-robin-online", "--set", f"team={team_id}", "--publish"))
    waiting = [c["id"] for c in fake.state()["contacts"] if c.get("assignee") is None and c["status"] != "open"][:3]
    assert len(waiting) == 3

    def open_them() -> None:
        for contact_id in waiting:
            fake.control("POST", f"/contacts/{contact_id}/open", json={"source": "contact"})

    code, err = sync_until_idle(env, port, open_them, "--webhook-secret", SECRET)
    assert code == 0, err
    assert fake.assignees(waiting) == [first["id"]] * 3


def test_availability_commands_refuse_bad_input_in_words(fake: LoopbackFake, env: dict[str, str]) -> None:
    _ok(run_cli(env, "sync", "--once"))
    agent = _agents(env)[0]
    unknown = run_cli(env, "availability", "set", "Nobody McNoone", "available")
    assert unknown.returncode == 1 and "No agent called 'Nobody McNoone'" in unknown.stderr
    missing_id = run_cli(env, "hours", "set", "99999999999999999999", "Mon 09:00-10:00")
    assert missing_id.returncode == 1 and "No agent with id 99999999999999999999" in missing_id.stderr
    nameless = run_cli(env, "availability", "set", " ", "away")
    assert nameless.returncode == 1 and "No agent was named" in nameless.stderr
    wrong = run_cli(env, "availability", "set", str(agent["id"]), "online")
    assert wrong.returncode == 2 and "Use available or away" in wrong.stderr
    hours = run_cli(env, "hours", "set", str(agent["id"]), "9 to 5")
    assert hours.returncode == 2 and 'like "Mon-Fri 09:00-17:00"' in hours.stderr
    assert _agents(env)[0]["presence"] is None  # nothing was stored by the refused commands
    said = _ok(run_cli(env, "hours", "set", str(agent["id"]), "Mon-Fri 09:00-17:00"))
    assert "works Mon-Fri 09:00-17:00 (this computer's time zone)" in said
    tokyo = _ok(run_cli({**env, "CLOSEOUT_TIME_ZONE": "Asia/Tokyo"}, "agents"))
    assert tokyo.splitlines()[-1] == "working hours are in Asia/Tokyo"
    assert "no working hours" in _ok(run_cli(env, "hours", "clear", str(agent["id"])))
    assert _agents(env)[0]["hours"] is None
