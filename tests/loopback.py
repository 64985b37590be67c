"""A fake respond.io workspace on a real loopback socket, and the CLI as a subprocess: what a user would run."""

from __future__ import annotations

import os
import signal
import socket
import sqlite3
import subprocess
import sys
import time
from collections import Counter
from collections.abc import Callable
from pathlib import Path
from typing import Any

import httpx

from app.platform.fake import create_fake_platform
from app.platform.fake.server import FakeServer

ROOT = Path(__file__).resolve().parents[1]
TOKEN = "e2e-token-7c21"
SECRET = "e2e-signing-key"


def free_port() -> int:
    """A port nobody listens on right now (for a receiver that must be named before it starts)."""
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


class LoopbackFake:
    """The fake platform served by uvicorn in a thread; tests talk to it over HTTP only, like a separate process."""

    def __init__(self, **options: Any) -> None:
        options.setdefault("token", TOKEN)
        options.setdefault("rate_limit", 0)
        options.setdefault("contacts", 60)
        options.setdefault("webhook_secret", SECRET)
        self.server = FakeServer(create_fake_platform(**options))
        self.url = self.server.start_in_thread()
        self.root = self.url.removesuffix("/v2")
        self.token = str(options["token"])

    def control(self, method: str, path: str, **kwargs: Any) -> Any:
        response = httpx.request(method, f"{self.root}/_fake{path}", timeout=30, **kwargs)
        response.raise_for_status()
        return response.json()

    def state(self) -> dict[str, Any]:
        state: dict[str, Any] = self.control("GET", "/state")
        return state

    def assigned_open(self, count: int) -> list[int]:
        """Contacts with an open conversation and an assignee."""
        contacts = self.state()["contacts"]
        found = [c["id"] for c in contacts if c.get("assignee") and c["status"] == "open"]
        assert len(found) >= count, f"only {len(found)} assigned open contacts"
        return found[:count]

    def close(self, contact_id: int, **body: Any) -> None:
        """Close as the assigned agent would in the inbox."""
        self.control("POST", f"/contacts/{contact_id}/close", json={"source": "user", **body})

    def assignee(self, contact_id: int) -> int | None:
        return self.assignees([contact_id])[0]

    def assignees(self, contact_ids: list[int]) -> list[int | None]:
        """Each contact's assignee id (None when unassigned), from one look at the state."""
        by_id = {c["id"]: c.get("assignee") for c in self.state()["contacts"]}
        return [None if by_id[c] is None else int(by_id[c]) for c in contact_ids]

    def log(self) -> list[dict[str, Any]]:
        items: list[dict[str, Any]] = []
        since = 0
        while True:
            page = self.control("GET", f"/log?since={since}&limit=100000")
            items.extend(page["items"])
            if page["next"] >= page["total"]:
                return items
            since = page["next"]

    def unassign_posts(self) -> Counter[int]:
        """Unassign POSTs the workspace carried out, per contact id (an injected fault never reaches the handler)."""
        posts: Counter[int] = Counter()
        for entry in self.log():
            if (
                entry["method"] == "POST"
                and entry["path"].endswith("/conversation/assignee")
                and entry["status"] == 200
                and entry["fault"] is None
                and isinstance(entry["body"], dict)
                and entry["body"].get("assignee", "missing") is None
            ):
                posts[int(entry["path"].split("id:")[1].split("/")[0])] += 1
        return posts

    def faults(self, **body: Any) -> None:
        self.control("POST", "/faults", json=body)

    def stop(self) -> None:
        self.server.stop_thread()


def cli_env(home: Path, fake: LoopbackFake | None, token: str | None = None) -> dict[str, str]:
    """The environment a user would have: CLOSEOUT_HOME, and the fake's URL and token."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("CLOSEOUT_")}
    env["CLOSEOUT_HOME"] = str(home)
    if fake is not None:
        env["CLOSEOUT_API_URL"] = fake.url
        env["CLOSEOUT_API_TOKEN"] = token or fake.token
    return env


def run_cli(
    env: dict[str, str], *args: str, timeout: float = 120, stdin: str | None = None
) -> subprocess.CompletedProcess[str]:
    """`closeout-cli ARGS` as a subprocess, with `stdin` piped in if given; returns its result (check `returncode`)."""
    return subprocess.run(
        [sys.executable, "-m", "app.cli", *args],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=timeout,
        input=stdin,
    )


def start_cli(env: dict[str, str], *args: str) -> subprocess.Popen[str]:
    """`closeout-cli ARGS` in the background."""
    return subprocess.Popen(
        [sys.executable, "-m", "app.cli", *args],
        cwd=ROOT,
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )


def sync_until_idle(env: dict[str, str], port: int, act: Callable[[], object], *extra: str) -> tuple[int, str]:
    """`sync --until-idle` receiving webhooks on `port`: `act()` once it listens; returns (exit code, stderr)."""
    sync = start_cli(
        env,
        "sync",
        "--until-idle",
        "--idle-seconds",
        "3",
        "--webhook-port",
        str(port),
        "--poll-seconds",
        "3600",
        *extra,
    )
    try:
        assert sync.stderr is not None
        assert "receiving webhooks at" in sync.stderr.readline()
        act()
        _, err = sync.communicate(timeout=120)
    finally:
        if sync.poll() is None:
            sync.kill()
            sync.communicate()
    return sync.returncode, err


def stop_cli(process: subprocess.Popen[str]) -> tuple[int, str]:
    """Ask a started CLI to stop (SIGTERM), kill it after 30 s, and return its exit code and stderr."""
    if process.poll() is None:
        process.send_signal(signal.SIGTERM)
    try:
        _, err = process.communicate(timeout=30)
    except subprocess.TimeoutExpired:
        process.kill()
        _, err = process.communicate()
    return process.returncode, err


def login(env: dict[str, str], token: str) -> None:
    """`closeout-cli login --stdin --no-check`: store `token` as a lead would, without asking the platform."""
    result = subprocess.run(
        [sys.executable, "-m", "app.cli", "login", "--stdin", "--no-check"],
        cwd=ROOT,
        input=token + "\n",
        env=env,
        capture_output=True,
        text=True,
    )
    assert result.returncode == 0, result.stderr


def runner_pid(db: Path) -> int | None:
    """The pid holding the runner lease, read from the file as any SQLite tool would."""
    if not db.exists():
        return None
    with sqlite3.connect(db, timeout=5) as connection:
        try:
            row = connection.execute("SELECT pid, until FROM leases WHERE name = 'runner'").fetchone()
        except sqlite3.OperationalError:  # not created yet
            return None
    return None if row is None or row[1] < time.time() else int(row[0])


def wait_for(predicate: Callable[[], object], timeout: float, what: str, every: float = 0.1) -> None:
    """Block until `predicate()` is true (for tests that drive subprocesses, with no event loop of their own)."""
    deadline = time.monotonic() + timeout
    while not predicate():
        assert time.monotonic() < deadline, f"timed out waiting for {what}"
        time.sleep(every)
