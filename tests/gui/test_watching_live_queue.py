"""A window on a database another Closeout process runs for shows that process's closes live, as they commit."""

from __future__ import annotations

from pathlib import Path

import pytest

from app.domain.history import HistoryFilter
from app.domain.secret import Secret
from tests import inside
from tests.helpers import wait_until
from tests.loopback import SECRET, LoopbackFake, cli_env, free_port, run_cli, runner_pid, start_cli, stop_cli, wait_for
from ui.main_window import HISTORY


@pytest.mark.slow
async def test_a_watching_windows_live_queue_and_history_get_the_close_another_process_commits(
    gui_app, tmp_path: Path
) -> None:
    port = free_port()
    fake = LoopbackFake(seed=46, contacts=60, webhook_urls=[f"http://127.0.0.1:{port}/webhook"])
    home = tmp_path / "home"
    env = cli_env(home, fake)
    db = home / "data" / "closeout.sqlite3"
    runner = None
    try:
        assert run_cli(env, "use-template", "unassign-after-close", "--publish").returncode == 0
        runner = start_cli(
            env, "sync", "--forever", "--poll-seconds", "3600", "--webhook-port", str(port), "--webhook-secret", SECRET
        )
        assert runner.stderr is not None and "receiving webhooks" in runner.stderr.readline()
        wait_for(lambda: runner_pid(db) == runner.pid, 30, "the CLI to take the runner lease")
        async with gui_app() as app:

            def shown_history(contact_id: int) -> int:
                return sum(1 for entry in window.history.model.rows() if entry.change.contact_id == contact_id)

            watcher = await app.open(demo=False, token=Secret(fake.token), api_url=fake.url, db_url=f"sqlite:///{db}")
            window = app.window(watcher)
            await watcher.start()
            queue = window.live_queue.model
            await wait_until(lambda: window.live_queue._loaded, timeout=10)
            window.show_page(HISTORY)  # the history refreshes live while shown; the queue always does
            history_model = window.history.model
            await wait_until(lambda: not history_model.loading and not window.history._dirty, timeout=10)

            (contact_id,) = fake.assigned_open(1)
            assert shown_history(contact_id) == 0
            fake.close(contact_id)

            def shown() -> str | None:
                rows = [queue.row_at(r) for r in range(queue.rowCount())]
                return next((row.status for row in rows if row.close.contact.id == contact_id), None)

            await wait_until(lambda: shown() is not None, timeout=10)
            await wait_until(lambda: shown() == "unassigned", timeout=15)
            assert not inside.sync(watcher).is_runner
            assert "pid" in window.status.chip.text()
            history = await watcher.history_service.history_page(HistoryFilter(contact_id=contact_id))
            assert len(history.rows) == 1
            await wait_until(lambda: shown_history(contact_id) == 1, timeout=10)
    finally:
        if runner is not None:
            code, err = stop_cli(runner)
            assert code == 0, err[-2000:]
        fake.stop()
