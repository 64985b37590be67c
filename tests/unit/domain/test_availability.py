"""Availability the lead keeps: presence, working hours in words, and the lead's zone across DST."""

from __future__ import annotations

import datetime as dt
import zoneinfo

import pytest

from app.domain.availability import Availability, AvailabilityBook, Presence, WorkingHours, zone_named
from app.domain.errors import ConfigError
from app.settings import TIME_ZONE, Settings


@pytest.mark.parametrize(
    ("written", "described", "days"),
    [
        ("Mon-Fri 09:00-17:00", "Mon-Fri 09:00-17:00", {0, 1, 2, 3, 4}),
        ("mon,wed , fri 8:30-12:00", "Mon,Wed,Fri 08:30-12:00", {0, 2, 4}),
        ("Sat-Sun 22:00-06:00", "Sat-Sun 22:00-06:00", {5, 6}),
        ("Fri-Mon 10:00-14:00", "Mon,Fri-Sun 10:00-14:00", {4, 5, 6, 0}),
        ("Tue 00:00-23:59", "Tue 00:00-23:59", {1}),
        ("Mon-Fri 00:00-24:00", "Mon-Fri 00:00-24:00", {0, 1, 2, 3, 4}),
        ("Sat 18:00-00:00", "Sat 18:00-24:00", {5}),
        ("\u201cMon\u2013Fri 09:00\u201317:00\u201d", "Mon-Fri 09:00-17:00", {0, 1, 2, 3, 4}),
    ],
)
def test_hours_are_read_as_written_and_described_back(written: str, described: str, days: set[int]) -> None:
    hours = WorkingHours.parse(written)
    assert hours.days == frozenset(days)
    assert hours.describe() == described
    assert WorkingHours.parse(hours.describe()) == hours


@pytest.mark.parametrize(
    ("written", "says"),
    [
        ("9 to 5", "are not working hours"),
        ("Mon-Fry 09:00-17:00", "not a weekday"),
        ("Mon 25:00-26:00", "not a time of day"),
        ("Mon 09:00-09:00", "same time"),
        ("Mon 00:00-00:00", "same time"),
        ("Mon 24:00-10:00", "not a time of day"),
        ("Mon 09:00-24:30", "not a time of day"),
        ("", "are not working hours"),
    ],
)
def test_bad_hours_are_refused_in_words(written: str, says: str) -> None:
    with pytest.raises(ConfigError, match=says):
        WorkingHours.parse(written)


def test_a_night_shift_belongs_to_the_day_it_starts() -> None:
    night = WorkingHours.parse("Fri 22:00-06:00")
    friday = dt.datetime(2026, 12, 4)  # a Friday
    assert night.contains(friday.replace(hour=23))
    assert night.contains(friday.replace(hour=5) + dt.timedelta(days=1))  # Saturday 05:00, Friday's shift
    assert not night.contains(friday.replace(hour=5))  # Friday 05:00 belongs to Thursday, which has no shift
    assert not night.contains(friday.replace(hour=7) + dt.timedelta(days=1))


def test_24_00_ends_the_day_it_is_written_on() -> None:
    whole_day = WorkingHours.parse("Tue 00:00-24:00")
    tuesday = dt.datetime(2026, 12, 1)
    assert whole_day.contains(tuesday) and whole_day.contains(tuesday.replace(hour=23, minute=59))
    assert not whole_day.contains(tuesday + dt.timedelta(days=1))
    assert not whole_day.contains(tuesday - dt.timedelta(minutes=1))
    evening = WorkingHours.parse("Tue 18:00-24:00")
    assert evening.contains(tuesday.replace(hour=23, minute=59)) and not evening.contains(tuesday.replace(hour=17))
    assert not evening.contains(tuesday + dt.timedelta(days=1))


def test_away_or_never_set_is_never_available_and_hours_narrow_available() -> None:
    berlin = zoneinfo.ZoneInfo("Europe/Berlin")
    hours = WorkingHours.parse("Mon-Fri 09:00-17:00")
    book = AvailabilityBook(
        {1: Availability(1, Presence.AVAILABLE, hours), 2: Availability(2, Presence.AWAY), 3: Availability(3)}, berlin
    )
    # Monday 30 March 2026, the day after Berlin moved to summer time (UTC+2): 08:30 UTC is 10:30 there.
    after_dst = dt.datetime(2026, 3, 30, 8, 30, tzinfo=dt.UTC).timestamp()
    # Monday 23 March, still winter time (UTC+1): 07:30 UTC is 08:30 there, before the shift starts.
    before_dst = dt.datetime(2026, 3, 23, 7, 30, tzinfo=dt.UTC).timestamp()
    assert book.is_available(1, after_dst)
    # The same UTC clock time on either side of the change: 08:30 in winter, 09:30 in summer.
    assert book.is_available(1, dt.datetime(2026, 3, 30, 7, 30, tzinfo=dt.UTC).timestamp())
    assert not book.is_available(1, before_dst)
    assert not book.is_available(1, dt.datetime(2026, 3, 30, 7, 30, tzinfo=dt.UTC).timestamp() - 3600)
    assert not book.is_available(2, after_dst) and not book.is_available(3, after_dst)
    assert not book.is_available(99, after_dst)
    assert book.of(99) == Availability(99, Presence.AWAY, None)


def test_zones_and_presence_words() -> None:
    assert zone_named("") is None
    assert zone_named(" Asia/Tokyo ") == zoneinfo.ZoneInfo("Asia/Tokyo")
    with pytest.raises(ConfigError, match="not a time zone"):
        zone_named("Mars/Olympus")
    assert Presence.parse(" Available ") is Presence.AVAILABLE
    with pytest.raises(ConfigError, match="available or away"):
        Presence.parse("online")


def test_the_time_zone_setting_refuses_a_zone_nobody_knows(monkeypatch: pytest.MonkeyPatch) -> None:
    assert TIME_ZONE.parse(" America/New_York ") == "America/New_York"
    assert TIME_ZONE.parse("") == ""
    with pytest.raises(ConfigError, match="not a time zone"):
        TIME_ZONE.parse("Europe/Atlantis")
    monkeypatch.setenv("CLOSEOUT_TIME_ZONE", "Europe/Atlantis")
    with pytest.raises(ConfigError, match="not a time zone"):
        Settings().get(TIME_ZONE)
