"""Local days: where each day of a time zone begins, across daylight-saving changes.

A zone is a `tzinfo` (a `zoneinfo.ZoneInfo` in tests), or None for this machine's zone as the C library
knows it (the `TZ` variable, else /etc/localtime). A local day is not always 86,400 s long: the day a
zone leaves summer time has 25 hours, the day it enters has 23, so a day's start is found from its date,
never by adding days to another day's start.
"""

from __future__ import annotations

import datetime as dt

EPOCH = dt.date(1970, 1, 1)
DAY = 86_400


def local_date(at: float, zone: dt.tzinfo | None = None) -> dt.date:
    """The date at `at` in the zone."""
    return dt.datetime.fromtimestamp(at, zone).date()


def day_start(day: dt.date, zone: dt.tzinfo | None = None) -> float:
    """Unix seconds of the first moment of `day` in the zone.

    Where a clock change skips midnight itself, that is the moment the clock jumps (the offset before it).
    """
    return dt.datetime.combine(day, dt.time(), tzinfo=zone).timestamp()


def utc_offset(at: float, zone: dt.tzinfo | None = None) -> int:
    """The zone's offset from UTC at `at`, in whole seconds."""
    moment = dt.datetime.fromtimestamp(at, zone) if zone is not None else dt.datetime.fromtimestamp(at).astimezone()
    offset = moment.utcoffset()
    return int(offset.total_seconds()) if offset is not None else 0


def days_between(first: float, last: float, zone: dt.tzinfo | None = None) -> list[tuple[dt.date, float, float]]:
    """Every local day from the one holding `first` to the one holding `last`: (date, start, end), in order."""
    days = []
    day = local_date(first, zone)
    final = local_date(last, zone)
    start = day_start(day, zone)
    while day <= final:
        following = day + dt.timedelta(days=1)
        end = day_start(following, zone)
        days.append((day, start, end))
        day, start = following, end
    return days


def offset_changes(first: float, last: float, zone: dt.tzinfo | None = None) -> list[tuple[float, int]]:
    """The zone's offsets over [first, last]: (from this instant, offset), the first from `first`.

    Found by comparing the offset at each local midnight and bisecting to the second where it changes;
    a zone changes its offset at most a few times a year, and never twice in one day.
    """
    changes = [(float(first), utc_offset(first, zone))]
    for _, _, end in days_between(first, last, zone):
        if end > last:
            end = last
        offset = utc_offset(end, zone)
        low, low_offset = changes[-1]
        if offset == low_offset:
            continue
        low = max(low, end - DAY)
        high = end
        while high - low > 1:
            middle = (low + high) // 2
            if utc_offset(middle, zone) == low_offset:
                low = middle
            else:
                high = middle
        changes.append((float(high), offset))
    return changes


def day_number(day: dt.date) -> int:
    """Days from 1970-01-01 to `day` (the number `(at + offset) // DAY` gives for a moment of that day)."""
    return (day - EPOCH).days


def date_of_number(number: int) -> dt.date:
    """The date `day_number` gave `number` for."""
    return EPOCH + dt.timedelta(days=number)
