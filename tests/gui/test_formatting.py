"""How a close's "closed by" reads in the queue."""

from __future__ import annotations

import datetime as dt
from dataclasses import replace

from app.domain.conversations import ClosedBySource
from tests.factories import close
from ui import formatting


def test_a_close_the_poll_found_says_when_it_was_found_and_that_it_closed_earlier() -> None:
    found = replace(
        close(3, closed_time=1_700_000_000, source=ClosedBySource.DETECTED_BY_POLL), detected_at=1_700_000_060
    )
    at = dt.datetime.fromtimestamp(1_700_000_060).strftime("%H:%M")

    assert formatting.closed_by(found) == f"Detected by poll at {at} (closed earlier)"
    assert formatting.closed_by(close(3)) == "Maya Lee (User)"
