"""The status bar and the notices say who sends, what stopped, and which published workflows overlap."""

from __future__ import annotations

import os

import pytest

from app.domain.errors import DiskFull
from app.storage.leases import RUNNER
from app.storage.store import Store
from tests.helpers import wait_until


async def test_the_status_bar_names_the_other_process_that_sends(gui_app, tmp_path) -> None:
    async with gui_app() as app:
        supervisor = await app.open(demo=True, seeded=False)
        other = Store.open(f"sqlite:///{tmp_path / 'gui0.sqlite3'}")  # a second Closeout on the same file
        try:
            await supervisor.store.db.write(other.leases.acquire, RUNNER, 60.0)
            window = app.window(supervisor)
            await supervisor.start()
            sending = window.status.sending
            await wait_until(lambda: sending.isVisible(), timeout=10)
            assert sending.text() == f"Another Closeout on this computer is sending: pid {os.getpid()}"
        finally:
            other.close()


@pytest.mark.log_errors_expected
async def test_a_stopped_drain_is_said_in_the_status_bar_and_a_notice_until_it_runs_again(gui_app) -> None:
    async with gui_app() as app:
        supervisor = await app.open(demo=True, seeded=False)
        outbox = supervisor.store.outbox
        claim_due = outbox.claim_due
        failures = [DiskFull("The disk holding the database is full.")]

        def failing_claim(now: float, limit: int = 20):  # the first claim finds the disk full
            if failures:
                raise failures.pop()
            return claim_due(now, limit)

        outbox.claim_due = failing_claim  # type: ignore[method-assign]
        window = app.window(supervisor)
        await supervisor.start()
        problem = window.status.problem
        await wait_until(lambda: problem.isVisible(), timeout=10)
        assert problem.text().startswith("The drain stopped: The disk holding the database is full.")
        assert any(n.key == "sync-problem" for n in window.notifications.notices())
        await wait_until(lambda: not problem.isVisible(), timeout=15)  # restarted, and the status says so
        assert not any(n.key == "sync-problem" for n in window.notifications.notices())


@pytest.mark.slow
async def test_publishing_a_workflow_on_the_trigger_of_a_published_one_warns_and_names_it(gui_app) -> None:
    async with gui_app() as app:
        supervisor = await app.open(demo=True, seeded=False)
        first = await supervisor.use_template("unassign-after-close", name="Unassign on close")
        assert first.id is not None
        await supervisor.publish(first.id)
        window = app.window(supervisor)
        second = await supervisor.use_template("unassign-after-close", name="Unassign, second copy")
        page = window.workflows_page
        await page.open_editor(second)
        assert await page.editor.publish_now() is not None
        warnings = [n.text for n in window.notifications.notices() if n.level == "warning"]
        assert any('"Unassign on close" is published on the same trigger' in text for text in warnings)
