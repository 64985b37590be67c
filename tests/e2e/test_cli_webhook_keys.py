"""`closeout-cli webhook-keys` and `sync --webhook-secret` as real processes against a fake on loopback."""

from __future__ import annotations

import json
import stat
from pathlib import Path

from tests.loopback import SECRET, LoopbackFake, cli_env, run_cli, sync_until_idle


def _no_keyring(env: dict[str, str]) -> dict[str, str]:
    """A machine without a keyring, so the keys go to the private file this test can inspect."""
    return {**env, "PYTHON_KEYRING_BACKEND": "keyring.backends.fail.Keyring"}


def test_keys_are_added_listed_without_their_value_and_removed(tmp_path: Path) -> None:
    env = _no_keyring(cli_env(tmp_path / "home", None))
    for label, key in (("closed", "closed-key-0001"), ("opened", "opened-key-0002")):
        result = run_cli(env, "webhook-keys", "add", "--label", label, key)
        assert result.returncode == 0, result.stderr
        assert key not in result.stdout and key[-4:] in result.stdout
    piped = run_cli(env, "webhook-keys", "add", "--label", "assignee", "--stdin", timeout=60)
    assert piped.returncode != 0  # nothing on stdin: an empty key is refused in words
    assert "empty" in piped.stderr and "Traceback" not in piped.stderr

    file = tmp_path / "home" / "config" / "webhook_keys.json"
    assert stat.S_IMODE(file.stat().st_mode) == 0o600
    listed = run_cli(env, "webhook-keys", "list", "--json")
    assert listed.returncode == 0, listed.stderr
    data = json.loads(listed.stdout)
    assert [(k["label"], k["event"], k["hint"]) for k in data["keys"]] == [
        ("closed", "Conversation Closed", "…0001"),
        ("opened", "Conversation Opened", "…0002"),
    ]
    assert "key-000" not in listed.stdout
    text = run_cli(env, "webhook-keys", "list").stdout
    assert "no key yet for: Contact Assignee Updated" in text

    status = run_cli(env, "--demo", "status", "--json")
    assert status.returncode == 0, status.stderr
    assert json.loads(status.stdout)["webhook_keys"] == ["closed", "opened"]
    assert "key-000" not in status.stdout

    assert run_cli(env, "webhook-keys", "remove", "opened").returncode == 0
    missing = run_cli(env, "webhook-keys", "remove", "opened")
    assert missing.returncode == 1 and "no signing key labelled 'opened'" in missing.stderr
    bad = run_cli(env, "webhook-keys", "add", "--label", "two words", "k")
    assert bad.returncode == 1 and "not a key label" in bad.stderr


def _close_all(fake: LoopbackFake, contact_ids: list[int]) -> None:
    for contact_id in contact_ids:
        fake.close(contact_id, category="Billing")


def test_sync_accepts_webhooks_under_stored_keys_and_repeated_options(
    fake_with_webhooks: tuple[LoopbackFake, int], tmp_path: Path
) -> None:
    fake, port = fake_with_webhooks
    env = _no_keyring(cli_env(tmp_path / "home", fake))
    assert run_cli(env, "use-template", "unassign-after-close", "--publish").returncode == 0
    assert run_cli(env, "webhook-keys", "add", "--label", "closed", SECRET).returncode == 0
    assert run_cli(env, "webhook-keys", "add", "--label", "opened", "some-other-key").returncode == 0

    # First under the stored keys alone; then with the stored "closed" key gone and given on the command line.
    for extra, count in (((), 2), (("--webhook-secret", "opened=x1", "--webhook-secret", f"closed={SECRET}"), 2)):
        if extra:
            assert run_cli(env, "webhook-keys", "remove", "closed").returncode == 0
        targets = fake.assigned_open(count)
        code, err = sync_until_idle(
            env, port, lambda ids=targets: [fake.close(c, category="Billing") for c in ids], *extra
        )
        assert code == 0, err
        assert fake.assignees(targets) == [None] * count
        assert SECRET not in err

    bad = run_cli(env, "sync", "--once", "--webhook-secret", "closed=")
    assert bad.returncode == 2 and "--webhook-secret" in bad.stderr


def test_a_key_piped_in_without_stdin_is_read_quietly_and_none_is_refused_in_words(tmp_path: Path) -> None:
    """`echo KEY | closeout-cli webhook-keys add --label closed`: no terminal to prompt on, so stdin is the key."""
    env = _no_keyring(cli_env(tmp_path / "home", None))
    piped = run_cli(env, "webhook-keys", "add", "--label", "closed", stdin="piped-closed-key-4321\n")
    assert piped.returncode == 0, piped.stderr
    assert "GetPassWarning" not in piped.stderr and "echoed" not in piped.stderr
    assert "…4321" in piped.stdout
    nothing = run_cli(env, "webhook-keys", "add", "--label", "opened", stdin="")
    assert nothing.returncode == 1
    assert "empty" in nothing.stderr and "unexpected error" not in nothing.stderr
    token = run_cli(env, "login", "--no-check", stdin="")
    assert token.returncode == 1
    assert "No token was given" in token.stderr and "unexpected error" not in token.stderr


def test_every_key_is_listed_with_a_label_and_a_hint_even_a_short_one(tmp_path: Path) -> None:
    """A key of eight characters or fewer has no last four to spare: its length stands in, never the key."""
    env = _no_keyring(cli_env(tmp_path / "home", None))
    for label, key in (("closed", "k7Qz"), ("opened", "abcdefgh"), ("assignee", "assignee-key-9876")):
        added = run_cli(env, "webhook-keys", "add", "--label", label, key)
        assert added.returncode == 0, added.stderr
        assert key not in added.stdout
    text = run_cli(env, "webhook-keys", "list")
    assert text.returncode == 0, text.stderr
    lines = text.stdout.splitlines()
    assert lines[0].split()[:2] == ["LABEL", "EVENT"]
    rows = {line.split()[0]: line for line in lines[1:4]}
    assert "(4 characters, none shown)" in rows["closed"] and "k7Qz" not in text.stdout
    assert "(8 characters, none shown)" in rows["opened"] and "abcdefgh" not in text.stdout
    assert "…9876" in rows["assignee"] and "assignee-key" not in text.stdout
    data = json.loads(run_cli(env, "webhook-keys", "list", "--json").stdout)
    assert {k["label"]: k["hint"] for k in data["keys"]} == {
        "closed": "(4 characters, none shown)",
        "opened": "(8 characters, none shown)",
        "assignee": "…9876",
    }
