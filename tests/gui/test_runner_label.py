"""The status bar names the computer that runs, and a watching window takes the role over after a confirm."""

from __future__ import annotations

import os
import time
from pathlib import Path

import pytest

from app.bootstrap import Connectivity
from app.domain.secret import Secret
from app.platform.fake.platform import create_fake_platform
from app.platform.fake.server import FakeServer
from app.storage.leases import RUNNER
from app.sync.service import SyncStatus
from tests import inside
from tests.helpers import wait_until
from ui.dialogs.confirm_dialog import ConfirmDialog
from ui.widgets.status_bar import runner_where


def _status(**runner: object) -> SyncStatus:
    return SyncStatus(Connectivity.ONLINE, "", 0, 0, None, None, None, **runner)  # type: ignore[arg-type]


def test_the_runner_is_named_as_the_lead_knows_it() -> None:
    assert runner_where(_status(runner_is_here=True, runner_host="desk-1", runner_on_this_computer=True)) == (
        "this computer"
    )
    assert runner_where(_status(runner_host="lead-2s-desktop", runner_pid=77)) == "lead-2s-desktop"
    same = _status(runner_host="desk-1", runner_pid=77, runner_on_this_computer=True)
    assert runner_where(same) == "another Closeout on this computer (pid 77)"
    assert runner_where(_status()) is None


@pytest.mark.slow
async def test_a_watching_window_takes_over_after_a_confirm(
    gui_app, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    questions: list[str] = []
    answers = [False, True]  # the first Take over is cancelled at the question, the second confirmed

    async def confirm(cls, parent, title: str, text: str, action: str) -> bool:
        questions.append(f"{title}: {text} [{action}]")
        return answers.pop(0)

    monkeypatch.setattr(ConfirmDialog, "ask", classmethod(confirm))
    fake = create_fake_platform(seed=6, users=4, contacts=20, rate_limit=0)
    server = FakeServer(fake)
    url = server.start_in_thread()
    try:
        async with gui_app() as app:
            shared = f"sqlite:///{tmp_path / 'shared.sqlite3'}"
            first = await app.open(demo=False, token=Secret(fake.token), api_url=url, db_url=shared)
            first_window = app.window(first)
            await first.start()
            await wait_until(lambda: inside.sync(first).is_runner, timeout=10)
            await wait_until(lambda: first_window.status.runner.text() == "Runner: this computer", timeout=10)
            assert first_window.status.take_over.isHidden()  # nothing to take from oneself

            second = await app.open(demo=False, token=Secret(fake.token), api_url=url, db_url=shared)
            window = app.window(second)
            await second.start()
            bar = window.status
            prefix = f"Runner: another Closeout on this computer (pid {os.getpid()}), "
            await wait_until(lambda: bar.runner.text().startswith(prefix), timeout=10)
            assert bar.runner.text().removeprefix(prefix) in {"just now", "2 s ago", "3 s ago"}
            assert bar.take_over.isVisible() and bar.take_over.isEnabled()
            assert not inside.sync(second).is_runner

            bar.take_over.click()
            await wait_until(lambda: len(questions) == 1)
            renewals_later = time.monotonic() + 2 * inside.sync(first).options.lease_seconds / 3 + 0.5
            await wait_until(lambda: time.monotonic() > renewals_later, timeout=10)
            assert inside.sync(first).is_runner and not inside.sync(second).is_runner  # cancelled: nothing was asked
            assert not await inside.store(second).db.read(inside.store(second).leases.asked, RUNNER)

            bar.take_over.click()
            await wait_until(lambda: len(questions) == 2)
            assert questions[1].startswith("Take over: Make this computer the runner? Another Closeout on this")
            await wait_until(lambda: inside.sync(second).is_runner, timeout=15)
            assert not inside.sync(first).is_runner and inside.sync(first).handed_over == 1
            await wait_until(lambda: bar.runner.text() == "Runner: this computer", timeout=10)
            await wait_until(lambda: bar.take_over.isHidden(), timeout=10)
            await wait_until(lambda: first_window.status.runner.text().startswith(prefix), timeout=10)
            assert first_window.status.take_over.isVisible()
    finally:
        server.stop_thread()
