"""GCRA rules and the all-or-nothing reservation, with an in-memory store."""

from __future__ import annotations

import math

import pytest
from topicdesk.domain.errors import RateLimited
from topicdesk.domain.limiter import (
    WAKE_UP_SECONDS,
    LimitSettings,
    Reservation,
    Rule,
    reserve_all,
    rules_for,
)

from tests.support.fakes import MemoryStore

SETTINGS = LimitSettings(bot_per_second=28, chat_per_second=0.95, group_per_minute=19)


def test_private_chats_and_groups_get_their_own_key_besides_the_bot() -> None:
    assert [r.key for r in rules_for(42, 1, SETTINGS)] == ["chat#42", "bot"]
    group, bot = rules_for(-1001, 1, SETTINGS)
    assert group.key == "group#-1001" and group.interval == pytest.approx(60 / 19)
    assert bot.interval == pytest.approx(1 / 28)


def longest(reservations: list[Reservation]) -> float:
    return max(r.wait for r in reservations)


def test_consecutive_sends_are_spaced_by_the_interval() -> None:
    store = MemoryStore()
    rules = rules_for(-1001, 1, SETTINGS)
    waits = [longest(reserve_all(store, rules, 100.0, max_wait=10)) for _ in range(3)]
    assert waits == pytest.approx([0.0, 60 / 19, 2 * 60 / 19])


def test_beyond_max_wait_nothing_stays_reserved() -> None:
    store = MemoryStore()
    rules = rules_for(-1001, 1, SETTINGS)
    reserve_all(store, rules, 100.0, max_wait=3.5)
    reserve_all(store, rules, 100.0, max_wait=3.5)  # waits 3.16 s
    bot_before = store.tat["bot"]
    with pytest.raises(RateLimited) as refused:
        reserve_all(store, [Rule("bot", 1 / 28), rules[0]], 100.0, max_wait=3.5)
    assert refused.value.retry_after == pytest.approx(2 * 60 / 19)
    assert store.tat["bot"] == pytest.approx(bot_before)  # the bot slot was given back
    assert store.released == ["bot"]


def test_a_full_window_never_exceeds_the_documented_limit() -> None:
    """Slots granted over 10 minutes: no 60-second window holds more than 20 (group)."""
    store = MemoryStore()
    rules = rules_for(-5, 1, SETTINGS)
    now, sent = 0.0, []
    while now < 600:
        try:
            wait = longest(reserve_all(store, rules, now, max_wait=0.5))
        except RateLimited as deferred:
            now += deferred.retry_after
            continue
        sent.append(now + wait)
        now += wait
    assert len(sent) >= 0.9 * 20 * 10
    assert max(sum(1 for t in sent if s <= t < s + 60) for s in sent) <= 20


def test_only_the_bot_and_groups_are_hurt_by_a_late_send() -> None:
    settings = LimitSettings(bot_per_second=28, chat_per_second=0.95, group_per_minute=19)
    chat, bot = rules_for(5, 1, settings)
    group, _ = rules_for(-5, 1, settings)
    assert bot.late_tolerance == pytest.approx(0.02)  # half an interval (18 ms), or a wake-up
    assert group.late_tolerance == pytest.approx(60 / 19)
    assert chat.late_tolerance == math.inf


def test_lateness_below_a_wake_up_is_never_policed() -> None:
    """At 1000/s half an interval (0.5 ms) is below any sleep's precision: every sleeping
    send would be late and take a new slot, late again."""
    assert Rule("bot", 1 / 1000, late_slack=0.5).late_tolerance == WAKE_UP_SECONDS
    assert Rule("bot", 1 / 15, late_slack=0.5).late_tolerance == pytest.approx(1 / 30)
    assert Rule("chat#1", 1.0).late_tolerance == float("inf")
