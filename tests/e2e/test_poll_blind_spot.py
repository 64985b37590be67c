"""The poll finds a close that happened again with webhooks lost; it leaves a closed conversation someone assigned."""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path

import pytest

from tests.loopback import SECRET, LoopbackFake, cli_env, free_port, run_cli, sync_until_idle


def _queue_of(env: dict[str, str], contact_id: int) -> list[dict[str, object]]:
    result = run_cli(env, "queue", "--json", "--limit", "1000")
    assert result.returncode == 0, result.stderr
    return [row for row in json.loads(result.stdout) if row["contact_id"] == contact_id]


@pytest.mark.slow
def test_a_contact_reopened_reassigned_and_closed_again_unseen_is_found_by_the_poll_and_unassigned_once_more(
    launch: Callable[..., LoopbackFake], tmp_path: Path
) -> None:
    port = free_port()
    fake = launch(seed=47, contacts=80, webhook_urls=[f"http://127.0.0.1:{port}/webhook"])
    env = cli_env(tmp_path / "home", fake)
    assert run_cli(env, "use-template", "unassign-after-close", "--publish").returncode == 0
    again, handled = fake.assigned_open(2)
    agent = fake.assignee(again)

    def close_both() -> None:
        fake.close(again)
        fake.close(handled)

    code, err = sync_until_idle(env, port, close_both, "--webhook-secret", SECRET)
    assert code == 0, err
    assert fake.assignees([again, handled]) == [None, None]  # each close unassigned, as the webhooks said

    # No Closeout listens now, so no webhook about any of this arrives.
    # One contact writes in again, is assigned, and its agent closes the new conversation.
    fake.control("POST", f"/contacts/{again}/open", json={"message": "Hello again, one more question"})
    fake.control("POST", f"/contacts/{again}/assign", json={"user_id": agent})
    fake.close(again)
    # The other's closed conversation is assigned by a person, to follow it up: it is not a new close.
    fake.control("POST", f"/contacts/{handled}/assign", json={"user_id": agent})

    result = run_cli(env, "sync", "--once")
    assert result.returncode == 0, result.stderr

    assert fake.assignee(again) is None
    assert fake.assignee(handled) == agent
    posts = fake.unassign_posts()
    assert (posts[again], posts[handled]) == (2, 1)
    rows = _queue_of(env, again)
    assert [row["closed_by_source"] for row in rows] == ["detected_by_poll", "user"]
    assert len(_queue_of(env, handled)) == 1

    # A second poll finds nothing new: the person's assignment stays, and nothing is recorded twice.
    result = run_cli(env, "sync", "--once")
    assert result.returncode == 0, result.stderr
    assert fake.assignee(handled) == agent
    assert fake.unassign_posts()[handled] == 1
    assert len(_queue_of(env, again)) == 2
