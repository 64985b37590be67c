"""`closeout-cli fake-platform` as a real process: one line out, a working API, a simulator, a clean exit."""

from __future__ import annotations

import asyncio
import signal
import subprocess
import sys
from pathlib import Path

import httpx
import pytest

from app.cli import main
from tests.helpers import wait_until

ROOT = Path(__file__).resolve().parents[2]


@pytest.mark.parametrize("stop", [signal.SIGTERM, signal.SIGINT])
async def test_fake_platform_serves_simulates_and_exits_cleanly_on_a_signal(stop: signal.Signals) -> None:
    process = subprocess.Popen(
        [sys.executable, "-m", "app.cli", "fake-platform", "--port", "0", "--simulate", "600", "--token", "cli-token"],
        cwd=ROOT,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        assert process.stdout is not None
        line = await asyncio.wait_for(asyncio.to_thread(process.stdout.readline), 30)
        words = line.split()
        assert words[:3] == ["fake", "platform", "on"] and words[4] == "token=cli-token"
        url = words[3]
        assert url.startswith("http://127.0.0.1:") and url.endswith("/v2") and not url.endswith(":0/v2")
        async with httpx.AsyncClient(headers={"Authorization": "Bearer cli-token"}, timeout=10) as http:
            contact = (await http.get(f"{url}/contact/id:1")).json()
            assert contact["id"] == 1
            refused = await http.get(f"{url}/contact/id:1", headers={"Authorization": "Bearer nope"})
            assert refused.status_code == 401
        state_url = url.removesuffix("/v2") + "/_fake/state"

        def closes() -> int:
            counters: dict[str, int] = httpx.get(state_url, timeout=10).json()["counters"]
            return counters.get("closes", 0)

        await wait_until(lambda: closes() >= 3, timeout=15, step=0.1)
        process.send_signal(stop)
        code = await asyncio.wait_for(asyncio.to_thread(process.wait), 15)
        assert code == 0
        assert process.stdout.read() == ""
    finally:
        _reap(process)


def test_a_usage_mistake_is_one_line_and_exit_2(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["fake-platform", "--port", "http"]) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and err.startswith("closeout-cli: ") and "'http' is not a whole number" in err
    assert main([]) == 2
    assert "choose a command" in capsys.readouterr().err
    assert main(["fake-platform", "--faults", "429=2"]) == 2
    assert "--faults" in capsys.readouterr().err


def test_a_port_in_use_is_one_line_and_exit_1(capsys: pytest.CaptureFixture[str]) -> None:
    import socket

    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        assert main(["fake-platform", "--port", str(port)]) == 1
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "in use" in err
    assert "Traceback" not in err


def test_help_exits_0(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["fake-platform", "--help"]) == 0
    out = capsys.readouterr().out
    for flag in ("--rate-limit", "--rate-window", "--webhook-secrets", "--next-form", "--refuse-operator"):
        assert flag in out


def test_bad_real_shape_flags_are_usage_errors(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["fake-platform", "--rate-window", "0"]) == 2
    assert "must be more than 0" in capsys.readouterr().err
    assert main(["fake-platform", "--next-form", "v3"]) == 2
    assert "invalid choice: 'v3'" in capsys.readouterr().err
    assert main(["fake-platform", "--refuse-operator", "isGreaterThan"]) == 2
    assert "invalid choice" in capsys.readouterr().err


async def test_the_real_shape_flags_reach_the_served_fake() -> None:
    command = [sys.executable, "-m", "app.cli", "fake-platform", "--port", "0", "--contacts", "30"]
    command += ["--next-form", "v2", "--rate-limit", "3", "--rate-window", "60", "--refuse-operator", "exists"]
    process = subprocess.Popen(command, cwd=ROOT, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    try:
        assert process.stdout is not None
        line = await asyncio.wait_for(asyncio.to_thread(process.stdout.readline), 30)
        url = line.split()[3]
        body = {"search": "", "timezone": "UTC", "filter": {"$and": []}}
        async with httpx.AsyncClient(headers={"Authorization": "Bearer demo-token"}, timeout=10) as http:
            page = await http.post(f"{url}/contact/list?limit=10", json=body)
            assert page.json()["pagination"]["next"] == f"{url}/contact/list?limit=10&cursorId=10"
            assert page.headers["x-ratelimit-limit"] == "3"
            exists = {"category": "contactField", "field": "assigneeUserId", "operator": "exists", "value": None}
            refused = await http.post(f"{url}/contact/list", json={**body, "filter": {"$and": [exists]}})
            assert refused.status_code == 400
            await http.post(f"{url}/contact/list", json=body)
            over = await http.post(f"{url}/contact/list", json=body)
            assert over.status_code == 429 and int(over.headers["retry-after"]) > 1  # a 60 s window refills slowly
        process.send_signal(signal.SIGTERM)
        assert await asyncio.wait_for(asyncio.to_thread(process.wait), 15) == 0
    finally:
        _reap(process)


def _reap(process: subprocess.Popen[str]) -> None:
    """Kill the fake if a test left it running, and close its pipes."""
    if process.poll() is None:
        process.kill()
        process.wait()
    for stream in (process.stdout, process.stderr):
        if stream is not None:
            stream.close()
