"""Business hours and the SLA clock that counts only them (issue 15, item 5): pure, stdlib.

A stage's hours are a time zone, weekly opening intervals per weekday (local wall-clock
times) and holidays (local dates, closed all day). The clock works on UTC timestamps: each
local day's intervals are turned into instants with ``zoneinfo`` so a daylight-saving change is
just a shorter or longer day (09:00-17:00 is 8 hours either side of it; a 00:00-24:00 day is
23 or 25 hours on the change). A local time that does not exist (the spring gap) is read
forward by the gap, one that exists twice (the autumn repeat) is its first occurrence
(``fold=0``).

No hours at all (``ALWAYS``): every instant is business time (the SLA is plain minutes).
"""

from __future__ import annotations

import json
from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field
from datetime import date, datetime, time, timedelta
from itertools import pairwise
from typing import Any
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

DAYS = ("mon", "tue", "wed", "thu", "fri", "sat", "sun")
SEARCH_DAYS = 800
"""How far the clock looks for business time (two years and some: a long holiday list)."""


class HoursError(ValueError):
    """Business hours that do not make sense (the stage's configuration)."""


Interval = tuple[int, int]
"""Opening minutes after local midnight: [start, end), end up to 1440 (24:00)."""


@dataclass(frozen=True)
class BusinessHours:
    zone: str = "UTC"
    weekly: tuple[tuple[Interval, ...], ...] = field(default_factory=lambda: ((),) * 7)
    """Monday first; each day's intervals sorted and not overlapping."""
    holidays: frozenset[date] = frozenset()
    always: bool = False

    @property
    def tz(self) -> ZoneInfo:
        return ZoneInfo(self.zone)

    def is_open(self, at: float) -> bool:
        if self.always:
            return True
        return any(start <= at < end for start, end in self._intervals(at - 86400 * 2, at))

    def next_opening(self, at: float) -> float | None:
        """``at`` itself when open; else when business time next begins (None: never)."""
        if self.always:
            return at
        for start, end in self._intervals(at - 86400 * 2, None):
            if end > at:
                return max(start, at)
        return None

    def business_seconds(self, start: float, end: float) -> float:
        """Business time between two instants (0 when ``end`` is not after ``start``)."""
        if end <= start:
            return 0.0
        if self.always:
            return end - start
        total = 0.0
        for open_at, close_at in self._intervals(start - 86400 * 2, end):
            total += max(0.0, min(close_at, end) - max(open_at, start))
        return total

    def add(self, start: float, seconds: float) -> float | None:
        """The instant when ``seconds`` of business time have passed since ``start``
        (None: the hours never add up to it within ``SEARCH_DAYS``)."""
        if self.always:
            return start + seconds
        left = seconds
        for open_at, close_at in self._intervals(start - 86400 * 2, None):
            if close_at <= start:
                continue
            begin = max(open_at, start)
            if left <= close_at - begin:
                return begin + left
            left -= close_at - begin
        return None

    def _intervals(self, since: float, until: float | None) -> Iterator[tuple[float, float]]:
        """Business intervals as UTC instants, in order, from the local day of ``since`` on,
        stopping after ``until`` (None: ``SEARCH_DAYS`` days)."""
        tz = self.tz
        day = datetime.fromtimestamp(since, tz).date()
        for _ in range(SEARCH_DAYS):
            if day not in self.holidays:
                for start, end in self.weekly[day.weekday()]:
                    yield _instant(day, start, tz), _instant(day, end, tz)
            if until is not None and _instant(day, 0, tz) > until:
                return
            day += timedelta(days=1)


def _instant(day: date, minute: int, tz: ZoneInfo) -> float:
    """Local ``day`` at ``minute`` after midnight as a UTC timestamp (24:00: next midnight)."""
    if minute >= 1440:
        day, minute = day + timedelta(days=1), minute - 1440
    # fold=0: in the spring gap the wall clock is read forward by the gap (02:30 that does
    # not exist is 03:30), an autumn repeat is its first occurrence.
    return datetime.combine(day, time(minute // 60, minute % 60), tzinfo=tz).timestamp()


ALWAYS = BusinessHours(always=True)


# ---------------------------------------------------------------------- configuration


def parse_hours(raw: Mapping[str, Any] | None) -> BusinessHours:
    """The hours of a stage's ``businessHours`` object (None or {}: always open).

    ``{"timeZone": "Europe/Berlin", "weekly": {"mon": ["09:00-17:00"], ...},
    "holidays": ["2026-12-25"]}``; a day not listed is closed.
    """
    if not raw:
        return ALWAYS
    if not isinstance(raw, Mapping):
        raise HoursError(f"businessHours must be an object, got {raw!r}")
    unknown = set(raw) - {"timeZone", "weekly", "holidays"}
    if unknown:
        raise HoursError(f"businessHours: unknown keys {sorted(unknown)}")
    zone = raw.get("timeZone", "UTC")
    try:
        ZoneInfo(str(zone))
    except (ZoneInfoNotFoundError, ValueError):
        raise HoursError(f"businessHours.timeZone: unknown time zone {zone!r}") from None
    weekly_raw = raw.get("weekly")
    if not isinstance(weekly_raw, Mapping) or not weekly_raw:
        raise HoursError("businessHours.weekly must name at least one day's hours")
    bad_days = set(weekly_raw) - set(DAYS)
    if bad_days:
        raise HoursError(f"businessHours.weekly: unknown days {sorted(bad_days)} (use {DAYS})")
    weekly = tuple(_day(name, weekly_raw.get(name, [])) for name in DAYS)
    holidays = raw.get("holidays", [])
    if not isinstance(holidays, list):
        raise HoursError("businessHours.holidays must be a list of YYYY-MM-DD dates")
    return BusinessHours(str(zone), weekly, frozenset(_date(value) for value in holidays))


def hours_from_json(text: str) -> BusinessHours:
    """The hours of the ``BUSINESS_HOURS`` setting (JSON; empty: always open)."""
    if not text.strip():
        return ALWAYS
    try:
        raw = json.loads(text)
    except ValueError as error:
        raise HoursError(f"business hours are not JSON: {error}") from None
    return parse_hours(raw)


def _day(name: str, value: Any) -> tuple[Interval, ...]:
    if not isinstance(value, list):
        raise HoursError(f"businessHours.weekly.{name} must be a list like ['09:00-17:00']")
    intervals = sorted(_interval(name, item) for item in value)
    for (_, end), (start, _) in pairwise(intervals):
        if start < end:
            raise HoursError(f"businessHours.weekly.{name}: intervals overlap")
    return tuple(intervals)


def _interval(name: str, value: Any) -> Interval:
    try:
        start_text, end_text = str(value).split("-")
        start, end = _minute(start_text), _minute(end_text)
    except ValueError:
        raise HoursError(f"businessHours.weekly.{name}: {value!r} is not HH:MM-HH:MM") from None
    if not 0 <= start < end <= 1440:
        raise HoursError(f"businessHours.weekly.{name}: {value!r} must open before it closes")
    return start, end


def _minute(text: str) -> int:
    hours, minutes = text.strip().split(":")
    if len(minutes) != 2 or not 0 <= int(minutes) < 60 or not 0 <= int(hours) <= 24:
        raise ValueError(text)
    return int(hours) * 60 + int(minutes)


def _date(value: Any) -> date:
    try:
        return date.fromisoformat(str(value))
    except ValueError:
        raise HoursError(f"businessHours.holidays: {value!r} is not YYYY-MM-DD") from None
