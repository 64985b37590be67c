"""The status bar and the notices say what background work stopped, until it runs again."""

from __future__ import annotations

import pytest

from app.domain.errors import DiskFull
from tests import inside
from tests.helpers import wait_until


@pytest.mark.log_errors_expected
async def test_a_stopped_drain_is_said_in_the_status_bar_and_a_notice_until_it_runs_again(gui_app) -> None:
    async with gui_app() as app:
        supervisor = await app.open(demo=True, seeded=False)
        outbox = inside.store(supervisor).outbox
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
