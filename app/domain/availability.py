"""Who is available to take contacts: kept by the lead in Closeout, because respond.io shares no presence.

respond.io's users carry no online/offline field and no endpoint reports presence, so "only online users"
means the agents the lead marked available, within their working hours if they have any. Working hours are
weekdays and a time range in the lead's time zone; a range that ends before it starts runs past midnight
(a night shift that starts on the listed day). An agent the lead never set is not available: assigning to
someone who may be on leave is worse than waiting, and the run's reason says where to set it.
"""

from __future__ import annotations

import datetime as dt
import re
import zoneinfo
from collections.abc import Mapping
from dataclasses import dataclass
from enum import StrEnum

from app.domain.errors import ConfigError

DAY_NAMES = ("Mon", "Tue", "Wed", "Thu", "Fri", "Sat", "Sun")
_DAYS = {name.lower(): index for index, name in enumerate(DAY_NAMES)}
_HOURS = re.compile(r"^\s*(?P<days>[A-Za-z,\s-]+?)\s+(?P<start>\d{1,2}:\d{2})\s*-\s*(?P<end>\d{1,2}:\d{2})\s*$")
WHERE_SET = "availability is set on the Team page"
_TYPOGRAPHY = str.maketrans({"\u2013": "-", "\u2014": "-", "\u2212": "-", "\u201c": '"', "\u201d": '"'})


class Presence(StrEnum):
    """What the lead says about an agent now."""

    AVAILABLE = "available"
    AWAY = "away"

    @classmethod
    def parse(cls, raw: str) -> Presence:
        """`available` or `away` (any case), or ConfigError in words."""
        try:
            return cls(raw.strip().lower())
        except ValueError:
            raise ConfigError(f"{raw[:40]!r} is not a presence.", "Use available or away.") from None


@dataclass(frozen=True, slots=True)
class WorkingHours:
    """Weekdays (0 = Monday) and a daily time range, in the lead's time zone."""

    days: frozenset[int]
    start: dt.time
    end: dt.time

    @classmethod
    def parse(cls, raw: str) -> WorkingHours:
        """`Mon-Fri 09:00-17:00`, `Mon,Wed,Fri 08:30-12:00`, `Sat-Sun 22:00-06:00`, `Sun 00:00-24:00`.

        A lead writes a whole day as 00:00-24:00, so 24:00 is taken as an end; anything else is refused
        with a ConfigError that shows the form.
        """
        # Text copied from a document or the Team page's own example brings typographic dashes and quotes.
        match = _HOURS.match(raw.translate(_TYPOGRAPHY).strip().strip("\"'"))
        if match is None:
            raise ConfigError(f"{raw[:60]!r} are not working hours.", 'Write them like "Mon-Fri 09:00-17:00".')
        days: set[int] = set()
        for part in match["days"].replace(" ", "").split(","):
            first, sep, last = part.partition("-")
            if first.lower() not in _DAYS or (sep and last.lower() not in _DAYS):
                raise ConfigError(f"{part[:20]!r} is not a weekday or a range of them.", "Use Mon, Tue ... Sun.")
            low, high = _DAYS[first.lower()], _DAYS[(last if sep else first).lower()]
            days.update(range(low, high + 1) if low <= high else [*range(low, 7), *range(0, high + 1)])
        start, end = _time(match["start"]), _time(match["end"], end_of_day=True)
        # 24:00 is midnight at the end of the day: "00:00-24:00" is the whole day, "18:00-24:00" the evening.
        if start == end and match["end"].strip() != "24:00":
            raise ConfigError("Working hours must not start and end at the same time.")
        return cls(frozenset(days), start, end)

    def describe(self) -> str:
        """The hours as the lead writes them (`Mon-Fri 09:00-17:00`)."""
        end = "24:00" if self.end == dt.time(0, 0) else f"{self.end:%H:%M}"
        return f"{_describe_days(self.days)} {self.start:%H:%M}-{end}"

    def contains(self, moment: dt.datetime) -> bool:
        """Whether `moment` (a wall-clock time in the lead's zone) falls inside these hours."""
        clock = moment.time().replace(tzinfo=None)
        weekday = moment.weekday()
        if self.start < self.end:
            return weekday in self.days and self.start <= clock < self.end
        # Past midnight: the evening part belongs to today, the early-morning part to yesterday's shift.
        return (weekday in self.days and clock >= self.start) or ((weekday - 1) % 7 in self.days and clock < self.end)


def _time(raw: str, *, end_of_day: bool = False) -> dt.time:
    hours, minutes = (int(part) for part in raw.split(":"))
    if end_of_day and (hours, minutes) == (24, 0):
        return dt.time(0, 0)
    if not (0 <= hours < 24 and 0 <= minutes < 60):
        raise ConfigError(f"{raw!r} is not a time of day.", "Use 24-hour times such as 09:00 or 17:30.")
    return dt.time(hours, minutes)


def _describe_days(days: frozenset[int]) -> str:
    ordered = sorted(days)
    runs: list[list[int]] = []
    for day in ordered:
        if runs and runs[-1][-1] == day - 1:
            runs[-1].append(day)
        else:
            runs.append([day])
    parts = [DAY_NAMES[r[0]] if len(r) == 1 else f"{DAY_NAMES[r[0]]}-{DAY_NAMES[r[-1]]}" for r in runs]
    return ",".join(parts)


@dataclass(frozen=True, slots=True)
class Availability:
    """One agent's availability as the lead set it."""

    agent_id: int
    presence: Presence = Presence.AWAY
    hours: WorkingHours | None = None

    def is_available(self, moment: dt.datetime) -> bool:
        """Marked available, and inside the working hours if there are any."""
        return self.presence is Presence.AVAILABLE and (self.hours is None or self.hours.contains(moment))


@dataclass(frozen=True, slots=True)
class AvailabilityBook:
    """Every agent's availability and the zone their hours are in; `zone` None is this computer's zone."""

    entries: Mapping[int, Availability]
    zone: dt.tzinfo | None = None

    def of(self, agent_id: int) -> Availability:
        """The agent's availability; one never set is away."""
        return self.entries.get(agent_id) or Availability(agent_id)

    def is_available(self, agent_id: int, at: float) -> bool:
        """Whether the agent may take contacts at Unix time `at`."""
        entry = self.entries.get(agent_id)
        if entry is None:
            return False
        return entry.is_available(self.local(at))

    def local(self, at: float) -> dt.datetime:
        """Unix time `at` on the lead's wall clock (the machine's zone follows its own DST rules)."""
        if self.zone is None:
            return dt.datetime.fromtimestamp(at).astimezone()
        return dt.datetime.fromtimestamp(at, self.zone)


def zone_named(name: str) -> dt.tzinfo | None:
    """The IANA zone `name` (`Europe/Berlin`); empty means this computer's zone (None). ConfigError if unknown."""
    if not name.strip():
        return None
    try:
        return zoneinfo.ZoneInfo(name.strip())
    except (zoneinfo.ZoneInfoNotFoundError, ValueError):
        raise ConfigError(
            f"{name[:60]!r} is not a time zone this computer knows.", "Use an IANA name such as Europe/Berlin."
        ) from None
