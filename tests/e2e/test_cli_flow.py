"""A team lead's flow through `closeout-cli` against a fake workspace on loopback."""

from __future__ import annotations

import csv
import json
from pathlib import Path

from tests.loopback import SECRET, LoopbackFake, cli_env, run_cli, sync_until_idle


def _ok(result) -> str:  # type: ignore[no-untyped-def]
    assert result.returncode == 0, result.stderr
    assert "Traceback" not in result.stderr
    return str(result.stdout)


def test_use_template_publish_poll_and_review(fake: LoopbackFake, env: dict[str, str], tmp_path: Path) -> None:
    workflow_id = _ok(run_cli(env, "use-template", "unassign-after-close", "--publish")).strip()
    assert workflow_id == "1"
    _ok(run_cli(env, "sync", "--once"))  # catches up on conversations closed before Closeout was set up
    targets = fake.assigned_open(3)
    for contact_id in targets:
        fake.close(contact_id, category="Resolved")

    _ok(run_cli(env, "sync", "--once"))

    assert fake.assignees(targets) == [None, None, None]
    queue = json.loads(_ok(run_cli(env, "queue", "--json", "--limit", "500")))
    rows = {row["contact_id"]: row for row in queue if row["contact_id"] in targets}
    assert set(rows) == set(targets)
    for row in rows.values():
        assert row["closed_by_source"] == "detected_by_poll"
        assert row["outcome"] == "unassigned" and row["reason"].startswith("unassigned ")
        assert isinstance(row["closed_at"], int) and isinstance(row["assignee_at_close"], int)
        assert isinstance(row["detected_at"], int) and row["closed_at"] <= row["detected_at"]  # found by the poll
    history = json.loads(_ok(run_cli(env, "history", "--json", "--limit", "1000")))
    assert {h["contact_id"] for h in history} >= set(targets)
    assert all(h["sync_state"] == "synced" and h["to_agent_id"] is None for h in history)

    export = tmp_path / "history.csv"
    _ok(run_cli(env, "history", "--csv", str(export)))
    with export.open(newline="", encoding="utf-8") as handle:
        exported = list(csv.DictReader(handle))
    assert len(exported) == len(history)
    for column in ("at", "contact_id", "from_agent_id", "to_agent_id", "source", "workflow", "sync_state", "reason"):
        assert column in exported[0]
    assert {int(r["contact_id"]) for r in exported} >= set(targets)
    assert fake.unassign_posts()[targets[0]] == 1


def test_webhooks_are_received_verified_and_acted_on(
    fake_with_webhooks: tuple[LoopbackFake, int], tmp_path: Path
) -> None:
    fake, port = fake_with_webhooks
    env = cli_env(tmp_path / "home", fake)
    _ok(run_cli(env, "use-template", "unassign-after-close", "--publish"))
    targets = fake.assigned_open(4)

    def close_them() -> None:
        for contact_id in targets:
            fake.close(contact_id, category="Billing", summary="refund sent")

    code, err = sync_until_idle(env, port, close_them, "--webhook-secret", SECRET)
    assert code == 0, err
    assert fake.assignees(targets) == [None] * 4
    queue = json.loads(_ok(run_cli(env, "queue", "--json", "--limit", "500")))
    by_webhook = [r for r in queue if r["contact_id"] in targets]
    assert {r["closed_by_source"] for r in by_webhook} == {"user"}
    assert {r["category"] for r in by_webhook} == {"Billing"}
    assert all(r["closed_by"] is not None for r in by_webhook)


def test_dry_run_undo_export_import_and_errors(fake: LoopbackFake, env: dict[str, str], tmp_path: Path) -> None:
    _ok(run_cli(env, "use-template", "unassign-after-close", "--publish"))
    _ok(run_cli(env, "sync", "--once"))
    report = json.loads(_ok(run_cli(env, "dry-run", "1", "--since", "1d", "--json")))
    assert report["counts"]["done"] >= 1 and len(report["rows"]) == sum(report["counts"].values())

    runs = json.loads(_ok(run_cli(env, "runs", "--json")))
    run = runs[0]
    contact_id = run["contact_id"]
    previous = json.loads(_ok(run_cli(env, "history", "--json", "--contact", str(contact_id))))[0]["from_agent_id"]
    assert "undo of run" in _ok(run_cli(env, "undo", str(run["id"])))
    _ok(run_cli(env, "sync", "--once"))
    assert fake.assignee(contact_id) == previous
    history = json.loads(_ok(run_cli(env, "history", "--json", "--contact", str(contact_id))))
    assert [h["source"] for h in history] == ["undo", "workflow"]
    assert [h["sync_state"] for h in history] == ["synced", "undone"]
    again = run_cli(env, "undo", str(run["id"]))
    assert again.returncode == 1 and "already undone" in again.stderr and "Traceback" not in again.stderr

    exported = tmp_path / "wf.json"
    _ok(run_cli(env, "export", "1", str(exported)))
    assert _ok(run_cli(env, "import", str(exported))).strip() == "2"
    broken = tmp_path / "broken.json"
    broken.write_text("{nope")
    result = run_cli(env, "import", str(broken))
    assert result.returncode == 1 and "not valid JSON" in result.stderr

    blocked = run_cli(env, "use-template", "round-robin-online", "--publish")
    assert blocked.returncode == 1 and "choose a team" in blocked.stderr
    usage = run_cli(env, "history", "--since", "yesterday-ish")
    assert usage.returncode == 2 and "is not a time" in usage.stderr


def test_a_wrong_token_exits_3_and_loses_nothing(fake: LoopbackFake, tmp_path: Path) -> None:
    env = cli_env(tmp_path / "home", fake, token="not-the-token")
    _ok(run_cli(env, "use-template", "unassign-after-close", "--publish"))
    result = run_cli(env, "sync", "--once")
    assert result.returncode == 3
    assert "rejected the token" in result.stderr and "not-the-token" not in result.stderr + result.stdout
