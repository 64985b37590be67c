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


def test_the_short_time_is_the_clock_today_and_a_day_or_a_month_before() -> None:
    now = dt.datetime(2026, 11, 30, 15, 0).timestamp()
    assert formatting.short_when(dt.datetime(2026, 11, 30, 8, 36, 5).timestamp(), now) == "08:36:05"
    assert formatting.short_when(dt.datetime(2026, 11, 2, 8, 36).timestamp(), now) == "02 Nov"
    assert formatting.short_when(dt.datetime(2025, 12, 24, 9, 0).timestamp(), now) == "Dec 2025"
    assert formatting.short_when(None, now) == formatting.NONE
