"""Local days from zoneinfo: 25- and 23-hour days, skipped midnights, half-hour zones."""

from __future__ import annotations

import datetime as dt
from zoneinfo import ZoneInfo

from app.domain.local_days import date_of_number, day_number, day_start, days_between, offset_changes, utc_offset

HOUR = 3600


def _utc(*parts: int) -> float:
    return dt.datetime(*parts, tzinfo=dt.UTC).timestamp()


def test_the_day_new_york_leaves_summer_time_has_25_hours_and_the_day_it_enters_23() -> None:
    zone = ZoneInfo("America/New_York")
    autumn = days_between(_utc(2026, 10, 31, 12), _utc(2026, 11, 2, 12), zone)
    assert [(d.day, (end - start) / HOUR) for d, start, end in autumn] == [(31, 24), (1, 25), (2, 24)]
    assert autumn[1][1] == _utc(2026, 11, 1, 4) and autumn[2][1] == _utc(2026, 11, 2, 5)
    spring = days_between(_utc(2026, 3, 8, 12), _utc(2026, 3, 8, 13), zone)
    assert [(end - start) / HOUR for _, start, end in spring] == [23]


def test_offset_changes_are_found_to_the_second() -> None:
    zone = ZoneInfo("Europe/Berlin")
    changes = offset_changes(_utc(2026, 10, 20), _utc(2026, 11, 5), zone)
    assert changes == [(_utc(2026, 10, 20), 2 * HOUR), (_utc(2026, 10, 25, 1), HOUR)]
    assert offset_changes(_utc(2026, 6, 1), _utc(2026, 12, 1), ZoneInfo("Asia/Tokyo")) == [(_utc(2026, 6, 1), 9 * HOUR)]


def test_a_skipped_midnight_starts_the_day_when_the_clock_jumps() -> None:
    zone = ZoneInfo("America/Santiago")  # clocks go from 00:00 to 01:00 on 6 September 2026
    start = day_start(dt.date(2026, 9, 6), zone)
    assert dt.datetime.fromtimestamp(start, zone).hour == 1
    assert utc_offset(start - 1, zone) == -4 * HOUR and utc_offset(start, zone) == -3 * HOUR


def test_a_half_hour_zone_and_tokyo_have_the_date_of_their_own_clock() -> None:
    assert day_start(dt.date(2026, 11, 5), ZoneInfo("Asia/Tokyo")) == _utc(2026, 11, 4, 15)
    assert day_start(dt.date(2026, 11, 5), ZoneInfo("Asia/Kolkata")) == _utc(2026, 11, 4, 18, 30)
    assert date_of_number(day_number(dt.date(2026, 11, 5))) == dt.date(2026, 11, 5)
