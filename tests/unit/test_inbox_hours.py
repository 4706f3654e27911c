"""The SLA clock that counts only business hours (issue 15, item 5): opening hours in a time
zone, holidays, daylight-saving changes, and properties of the clock."""

from __future__ import annotations

from datetime import UTC, datetime
from zoneinfo import ZoneInfo

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from topicdesk.domain.inbox.hours import (
    ALWAYS,
    BusinessHours,
    HoursError,
    hours_from_json,
    parse_hours,
)

BERLIN = ZoneInfo("Europe/Berlin")
NEW_YORK = ZoneInfo("America/New_York")
WEEKDAYS = {day: ["09:00-17:00"] for day in ("mon", "tue", "wed", "thu", "fri")}
OFFICE_NY = parse_hours({"timeZone": "America/New_York", "weekly": WEEKDAYS})
OFFICE_BERLIN = parse_hours(
    {
        "timeZone": "Europe/Berlin",
        "weekly": {**WEEKDAYS, "sat": ["10:00-12:00"], "sun": ["00:00-24:00"]},
        "holidays": ["2026-12-25"],
    }
)


def at(zone: ZoneInfo, *parts: int) -> float:
    year, month, day, hour, minute = parts
    return datetime(year, month, day, hour, minute, tzinfo=zone).timestamp()


def local(zone: ZoneInfo, timestamp: float) -> datetime:
    return datetime.fromtimestamp(timestamp, zone).replace(tzinfo=None)


def test_within_hours_the_sla_is_plain_minutes() -> None:
    start = at(NEW_YORK, 2026, 12, 1, 10, 0)  # a Tuesday
    assert OFFICE_NY.add(start, 15 * 60) == start + 900
    assert OFFICE_NY.is_open(start)
    assert OFFICE_NY.business_seconds(start, start + 900) == 900


def test_a_wait_begun_after_hours_counts_from_opening_time() -> None:
    friday_evening = at(NEW_YORK, 2026, 12, 4, 16, 50)
    due = OFFICE_NY.add(friday_evening, 15 * 60)
    assert due is not None
    # 10 minutes on Friday, 5 on Monday morning.
    assert local(NEW_YORK, due) == datetime(2026, 12, 7, 9, 5)
    assert not OFFICE_NY.is_open(at(NEW_YORK, 2026, 12, 5, 12, 0))
    assert OFFICE_NY.next_opening(at(NEW_YORK, 2026, 12, 5, 12, 0)) == at(
        NEW_YORK, 2026, 12, 7, 9, 0
    )


def test_a_dst_change_over_the_weekend_moves_opening_time_in_utc() -> None:
    # The US leaves daylight saving on Sunday 2026-11-01: Monday opens at 14:00 UTC, not 13:00.
    saturday = at(NEW_YORK, 2026, 10, 31, 12, 0)
    due = OFFICE_NY.add(saturday, 10 * 60)
    assert due == datetime(2026, 11, 2, 14, 10, tzinfo=UTC).timestamp()
    friday_before = at(NEW_YORK, 2026, 10, 30, 16, 55)
    assert OFFICE_NY.business_seconds(friday_before, due) == 15 * 60


def test_the_short_and_the_long_day_of_a_dst_change() -> None:
    # Sunday is open around the clock in Berlin: 23 hours on 2026-03-29, 25 on 2026-10-25.
    spring = OFFICE_BERLIN.business_seconds(
        at(BERLIN, 2026, 3, 29, 0, 0), at(BERLIN, 2026, 3, 30, 0, 0)
    )
    autumn = OFFICE_BERLIN.business_seconds(
        at(BERLIN, 2026, 10, 25, 0, 0), at(BERLIN, 2026, 10, 26, 0, 0)
    )
    assert (spring, autumn) == (23 * 3600, 25 * 3600)
    # A wait across the spring gap: 01:50 + 15 business minutes is 03:05 local.
    due = OFFICE_BERLIN.add(at(BERLIN, 2026, 3, 29, 1, 50), 15 * 60)
    assert due is not None and local(BERLIN, due) == datetime(2026, 3, 29, 3, 5)


def test_holidays_are_closed_all_day() -> None:
    christmas = at(BERLIN, 2026, 12, 25, 11, 0)  # a Friday
    assert not OFFICE_BERLIN.is_open(christmas)
    due = OFFICE_BERLIN.add(christmas, 60)
    assert due is not None and local(BERLIN, due) == datetime(2026, 12, 26, 10, 1)


def test_the_same_instant_in_two_time_zones() -> None:
    instant = datetime(2026, 12, 1, 15, 0, tzinfo=UTC).timestamp()  # 16:00 Berlin, 10:00 NY
    assert OFFICE_BERLIN.is_open(instant) and OFFICE_NY.is_open(instant)
    later = datetime(2026, 12, 1, 17, 0, tzinfo=UTC).timestamp()  # 18:00 Berlin, 12:00 NY
    assert not OFFICE_BERLIN.is_open(later) and OFFICE_NY.is_open(later)
    assert OFFICE_BERLIN.business_seconds(instant, later) == 3600
    assert OFFICE_NY.business_seconds(instant, later) == 7200


def test_no_hours_means_always_open() -> None:
    assert hours_from_json("") is ALWAYS
    assert ALWAYS.add(1000.0, 60) == 1060.0
    assert ALWAYS.is_open(0.0)


def test_hours_without_any_open_day_never_add_up() -> None:
    closed = parse_hours({"weekly": {"mon": []}})
    assert closed.add(0.0, 60) is None
    assert closed.next_opening(0.0) is None


@pytest.mark.parametrize(
    "raw",
    [
        {"timeZone": "Mars/Olympus", "weekly": WEEKDAYS},
        {"weekly": {"monday": ["09:00-17:00"]}},
        {"weekly": {"mon": ["17:00-09:00"]}},
        {"weekly": {"mon": ["09:00-12:00", "11:00-13:00"]}},
        {"weekly": {"mon": ["9-5"]}},
        {"weekly": WEEKDAYS, "holidays": ["25.12.2026"]},
        {"weekly": WEEKDAYS, "slaMinutes": 5},
        {"timeZone": "UTC"},
    ],
)
def test_nonsense_hours_are_refused(raw: dict[str, object]) -> None:
    with pytest.raises(HoursError):
        parse_hours(raw)


# ---------------------------------------------------------------------- properties

instants = st.floats(
    min_value=datetime(2026, 1, 1, tzinfo=UTC).timestamp(),
    max_value=datetime(2028, 1, 1, tzinfo=UTC).timestamp(),
)
durations = st.floats(min_value=0, max_value=5 * 86400)
offices = st.sampled_from([OFFICE_NY, OFFICE_BERLIN, ALWAYS])


@settings(max_examples=60, deadline=None)
@given(offices, instants, durations)
def test_the_due_time_is_exactly_that_much_business_time_later(
    office: BusinessHours, start: float, seconds: float
) -> None:
    due = office.add(start, seconds)
    assert due is not None and due >= start
    assert office.business_seconds(start, due) == pytest.approx(seconds, abs=1e-3)


@settings(max_examples=60, deadline=None)
@given(offices, instants, durations, durations)
def test_business_time_adds_up_and_never_exceeds_wall_time(
    office: BusinessHours, start: float, first: float, second: float
) -> None:
    middle, end = start + first, start + first + second
    whole = office.business_seconds(start, end)
    parts = office.business_seconds(start, middle) + office.business_seconds(middle, end)
    assert whole == pytest.approx(parts, abs=1e-3)
    assert 0 <= whole <= end - start + 1e-6
