"""Inbox stats (issue 15, item 6): opened and closed, first-response and resolution
percentiles, per operator, unanswered now, from the inbox records; the digest's text."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st
from topicdesk.domain.inbox import Conversation, Event, Owner, State
from topicdesk.domain.inbox.state import apply
from topicdesk.domain.inbox.stats import compute, digest, percentile, period_seconds

CHAT = -100123
BOB = Owner(501, "Bob")
EVE = Owner(502, "Eve")
DAY = 86400.0
WEEK_START = 1_000 * DAY


def conversation(
    user: int, opened: float, answered: float | None, closed: float | None, owner: Owner | None
) -> Conversation:
    record = apply(
        Conversation(CHAT, user, thread_id=user, name=f"P{user}"), Event.PERSON_WROTE, opened
    )
    if answered is not None:
        record = apply(record, Event.OPERATOR_ANSWERED, answered)
    if closed is not None:
        record = apply(record, Event.CLOSED, closed)
    return record.with_changes(owner=owner)


def test_percentiles_are_nearest_rank() -> None:
    values = [float(v) for v in range(1, 11)]
    assert percentile(values, 50) == 5.0
    assert percentile(values, 90) == 9.0
    assert percentile([42.0], 90) == 42.0
    assert percentile([], 50) is None


@given(st.lists(st.floats(min_value=0, max_value=1e6), min_size=1, max_size=50))
def test_p50_never_exceeds_p90_and_both_are_values(values: list[float]) -> None:
    p50, p90 = percentile(values, 50), percentile(values, 90)
    assert p50 is not None and p90 is not None
    assert p50 <= p90 and p50 in values and p90 in values


def test_a_week_of_conversations() -> None:
    records = [
        # Bob: answered in 60 s and 300 s, one closed after an hour.
        conversation(1, WEEK_START + 10, WEEK_START + 70, WEEK_START + 3610, BOB),
        conversation(2, WEEK_START + DAY, WEEK_START + DAY + 300, None, BOB),
        # Eve: answered in 600 s, closed after two hours.
        conversation(
            3, WEEK_START + 2 * DAY, WEEK_START + 2 * DAY + 600, WEEK_START + 2 * DAY + 7200, EVE
        ),
        # Nobody's: still unanswered.
        conversation(4, WEEK_START + 3 * DAY, None, None, None),
        # Opened the week before: not opened in this week, closed in it.
        conversation(5, WEEK_START - DAY, WEEK_START - DAY + 30, WEEK_START + 100, EVE),
    ]
    stats = compute(records, WEEK_START, WEEK_START + 7 * DAY)
    total = stats.total
    assert (total.opened, total.closed, total.unanswered) == (4, 3, 1)
    assert total.first_response.values == (60.0, 300.0, 600.0)
    assert (total.first_response.p50, total.first_response.p90) == (300.0, 600.0)
    assert sorted(total.resolution.values) == [3600.0, 7200.0, DAY + 100]
    assert total.resolution.p50 == 7200.0
    assert set(stats.per_operator) == {"Bob", "Eve", "nobody"}
    bob = stats.per_operator["Bob"]
    assert (bob.opened, bob.closed, bob.first_response.p90) == (2, 1, 300.0)
    assert stats.per_operator["nobody"].unanswered == 1
    text = digest(stats)
    assert "opened 4 · closed 3 · unanswered now 1" in text
    assert "first response p50 5 min, p90 10 min" in text
    assert "• Bob:" in text and "• Eve:" in text


def test_an_empty_inbox() -> None:
    stats = compute([], 0.0, 7 * DAY)
    assert stats.total.opened == 0 and stats.total.first_response.p50 is None
    assert "opened 0" in digest(stats) and "p50 –" in digest(stats)


def test_a_reopened_conversation_is_not_closed() -> None:
    record = conversation(1, WEEK_START, WEEK_START + 10, WEEK_START + 20, BOB)
    reopened = apply(record, Event.REOPENED, WEEK_START + 30)
    assert reopened.state is not State.CLOSED
    assert compute([reopened], WEEK_START, WEEK_START + DAY).total.closed == 0


@pytest.mark.parametrize(
    ("text", "seconds"), [("7d", 7 * DAY), ("24h", DAY), ("90m", 5400), ("2w", 14 * DAY)]
)
def test_periods(text: str, seconds: float) -> None:
    assert period_seconds(text) == seconds


@pytest.mark.parametrize("text", ["", "7", "d", "0d", "7y", "-1d"])
def test_nonsense_periods(text: str) -> None:
    with pytest.raises(ValueError):
        period_seconds(text)
