"""The shared limiter's timing rules (``topicdesk.domain.throttle``) with in-memory fakes."""

from __future__ import annotations

import asyncio

import pytest
from topicdesk.domain.errors import RateLimited
from topicdesk.domain.limiter import (
    NEAR_SECONDS,
    LimitSettings,
    Reservation,
    Rule,
    kept_with_bot,
    next_tat,
)
from topicdesk.domain.throttle import SharedThrottle

from tests.support.clocks import ManualTime
from tests.support.fakes import MemoryBookings
from tests.support.fakes import MemoryStore as TatMemory


class MemoryStore(TatMemory):
    """The TAT store as a send uses it (``SendStore``), in memory: an operators' group's
    keys are kept with the bot's, as on DynamoDB."""

    def reserve_near(
        self, first: Rule, then: Rule, now: float, max_wait: float, then_wait: float
    ) -> list[Reservation]:
        """``SendStore.reserve_near``: both at once when the keys share the bot's item."""
        new_first, wait = next_tat(self.tat.get(first.key), now, first)
        if not kept_with_bot(first.key) or wait > min(NEAR_SECONDS, max_wait):
            return [self.reserve(first, now, max_wait)]
        start = now + wait  # the bot's slot is never before the group's
        new_then, then_wait_from_start = next_tat(self.tat.get(then.key), start, then)
        if wait + then_wait_from_start > then_wait:
            raise RateLimited(wait + then_wait_from_start, key=then.key)
        self.tat.update({first.key: new_first, then.key: new_then})
        return [
            Reservation(first.key, wait, first.cost),
            Reservation(then.key, wait + then_wait_from_start, then.cost),
        ]


SETTINGS = LimitSettings(bot_per_second=28, chat_per_second=0.95, group_per_minute=19)
GROUP_SLOT = 60 / 19


def throttle(
    clock: ManualTime, **kwargs: object
) -> tuple[SharedThrottle, MemoryStore, MemoryBookings]:
    store, bookings = MemoryStore(), MemoryBookings()
    limiter = SharedThrottle(
        store,
        SETTINGS,
        bookings=bookings,
        clock=clock.clock,
        sleep=clock.sleep,
        **kwargs,  # type: ignore[arg-type]
    )
    return limiter, store, bookings


def test_a_short_wait_is_slept_to_the_slot() -> None:
    clock = ManualTime()
    limiter, _, _ = throttle(clock)
    asyncio.run(limiter.before_send(-1))
    asyncio.run(limiter.before_send(-1))
    assert clock.now == pytest.approx(1000 + GROUP_SLOT)


def test_a_long_wait_books_the_slot_and_the_returning_record_takes_it() -> None:
    clock = ManualTime()
    limiter, store, bookings = throttle(clock)
    store.tat["group#-1"] = clock.now + 2 * GROUP_SLOT  # other instances' sends queued
    limiter.begin_record("r1", 1, None)
    with pytest.raises(RateLimited) as deferred:
        asyncio.run(limiter.before_send(-1))  # two slots away: past the 3.5 s it may sleep
    booked = bookings.items["r1"]
    assert booked.key == "group#-1"
    assert deferred.value.retry_after == pytest.approx(booked.slot - clock.now)
    tat_after_booking = store.tat["group#-1"]
    clock.now = booked.slot - 0.8  # SQS brought it back a little early
    limiter.begin_record("r1", 2, None)
    asyncio.run(limiter.before_send(-1))
    assert clock.now == pytest.approx(booked.slot)  # its own slot, nobody else's
    assert store.tat["group#-1"] == tat_after_booking  # nothing reserved twice
    assert "r1" not in bookings.items


def test_a_429_holds_a_slot_reserved_before_it_was_known() -> None:
    clock = ManualTime()
    limiter, store, _ = throttle(clock)
    asyncio.run(limiter.before_send(-1))
    store.push_back("group#-1", clock.now + 30)  # another instance met a 429
    with pytest.raises(RateLimited) as held:
        asyncio.run(limiter.before_send(-1))
    assert held.value.key == "group#-1" and held.value.retry_after > 25


def test_a_call_of_several_messages_goes_when_its_last_is_due() -> None:
    clock = ManualTime()
    limiter, store, _ = throttle(clock)
    asyncio.run(limiter.before_send(-1, 1))
    with pytest.raises(RateLimited) as too_long:
        asyncio.run(limiter.before_send(-1, 3))  # 3 units: 9.5 s, past the 3.5 s to sleep
    assert too_long.value.retry_after == pytest.approx(3 * GROUP_SLOT, abs=0.01)
    assert store.tat["group#-1"] == pytest.approx(1000 + GROUP_SLOT)  # nothing kept


def test_patience_defers_what_would_hold_up_the_rest_of_the_batch() -> None:
    clock = ManualTime()
    limiter, _, bookings = throttle(clock)
    asyncio.run(limiter.before_send(-1))
    limiter.begin_record("busy", 1, None, patience=0.5)
    with pytest.raises(RateLimited):
        asyncio.run(limiter.before_send(-1))
    assert clock.slept == [] and "busy" in bookings.items


def test_patience_never_defers_for_the_bots_own_slot() -> None:
    """Every record needs the bot's slot: a broadcast's jobs sleep for it, none defers."""
    clock = ManualTime()
    limiter, store, bookings = throttle(clock)
    store.tat["bot"] = clock.now + 2.0  # 56 sends of other instances queued on the bot's key
    limiter.begin_record("job", 1, None, patience=0.5)
    asyncio.run(limiter.before_send(501))  # a person's chat: idle
    assert clock.now == pytest.approx(1002.0, abs=0.05) and bookings.items == {}


class CountingStore(MemoryStore):
    """Counts the reservations per key (each is one conditional write on DynamoDB)."""

    def __init__(self) -> None:
        super().__init__()
        self.writes: list[str] = []

    def reserve(self, rule: Rule, now: float, max_wait: float) -> Reservation:
        self.writes.append(rule.key)
        return super().reserve(rule, now, max_wait)

    def reserve_near(
        self, first: Rule, then: Rule, now: float, max_wait: float, then_wait: float
    ) -> list[Reservation]:
        """Both keys in one write is one entry (``group#-1+bot``); one key alone counts in
        ``reserve``."""
        taken = super().reserve_near(first, then, now, max_wait, then_wait)
        if len(taken) == 2:
            self.writes.append("+".join(r.key for r in taken))
        return taken


def test_a_send_waiting_for_its_group_takes_the_bots_slot_once_when_it_goes() -> None:
    """The bot's slot is reserved when the group's is near, not seconds before it passes."""
    clock, store = ManualTime(), CountingStore()
    limiter = SharedThrottle(
        store, SETTINGS, clock=clock.clock, sleep=clock.sleep, latency_guard=0.03
    )
    asyncio.run(limiter.before_send(-1))
    asyncio.run(limiter.before_send(-1))  # the group's next slot is 3.16 s away
    assert store.writes == ["group#-1+bot", "group#-1", "bot"]
    assert clock.now == pytest.approx(1000.03 + GROUP_SLOT)
    assert store.tat["bot"] == pytest.approx(clock.now + 1 / 28)  # its slot: the send's


def test_a_late_send_with_someone_queued_behind_it_takes_a_new_slot() -> None:
    clock, store = ManualTime(), CountingStore()

    async def oversleep(seconds: float) -> None:
        late = 0.0 if clock.slept else 0.03  # the first sleep wakes 30 ms late (more than
        clock.slept.append(seconds)  # half the bot's interval)
        clock.now += seconds + late
        if late:
            store.tat["bot"] += 1 / 28  # another instance queued behind meanwhile

    limiter = SharedThrottle(store, SETTINGS, clock=clock.clock, sleep=oversleep)
    store.tat["bot"] = clock.now + 0.1  # the bot's next slot is 0.1 s away
    asyncio.run(limiter.before_send(501))
    assert store.writes == ["chat#501", "bot", "bot"]
    assert clock.now == pytest.approx(1000.1 + 2 / 28)  # behind the other instance's slot


def test_a_late_send_on_a_key_idle_since_takes_a_new_slot() -> None:
    """Not the slot it missed: a sender finding the key idle would go right after its TAT.
    (No latency guard here: the idle key's new slot is at once.)"""
    clock, store = ManualTime(), CountingStore()

    async def oversleep(seconds: float) -> None:
        clock.slept.append(seconds)
        clock.now += seconds + 0.05  # past the bot's TAT: idle again

    limiter = SharedThrottle(store, SETTINGS, clock=clock.clock, sleep=oversleep)
    store.tat["bot"] = clock.now + 0.1
    asyncio.run(limiter.before_send(501))
    assert store.writes == ["chat#501", "bot", "bot"]
    assert clock.now == pytest.approx(1000.15) and len(clock.slept) == 1  # no second sleep
    assert store.tat["bot"] == pytest.approx(clock.now + 1 / 28)


def test_a_bot_too_busy_after_the_groups_wait_books_and_leaves_the_groups_slot_a_gap() -> None:
    """The group's slot was held while the send waited for it: others may have reserved
    behind it since, so it is not given back (its TAT would step back under theirs)."""
    clock = ManualTime()
    limiter, store, bookings = throttle(clock)
    asyncio.run(limiter.before_send(-1))
    store.tat["bot"] = clock.now + 60  # a long bot hold arrives during the group's wait
    limiter.begin_record("r1", 1, None)
    with pytest.raises(RateLimited) as deferred:
        asyncio.run(limiter.before_send(-1))
    assert deferred.value.key == "bot" and bookings.items["r1"].key == "bot"
    assert store.released == []


def test_a_429_while_a_send_waits_in_the_bots_queue_holds_it() -> None:
    """The chat's slot is free at once; the bot's is a second away: the hold is looked for
    before the bot's slot too, not only before the chat's."""
    clock, store = ManualTime(), MemoryStore()

    async def sleep(seconds: float) -> None:
        clock.now += seconds
        store.push_back("bot", clock.now + 3.0)  # another instance met a short 429

    limiter = SharedThrottle(store, SETTINGS, clock=clock.clock, sleep=sleep)
    store.tat["bot"] = clock.now + 1.0
    with pytest.raises(RateLimited) as held:
        asyncio.run(limiter.before_send(501))
    assert held.value.key == "bot" and held.value.retry_after == pytest.approx(3.0)


def test_a_group_send_is_one_write_when_the_groups_slot_is_idle_or_near() -> None:
    """The group's slot and the bot's in one write (kept on one item); the bot's slot is
    never before the group's. A private chat's key is its own item: two writes."""
    clock, store = ManualTime(), CountingStore()
    limiter = SharedThrottle(
        store, SETTINGS, clock=clock.clock, sleep=clock.sleep, latency_guard=0.03
    )
    asyncio.run(limiter.before_send(-1))  # idle
    assert store.writes == ["group#-1+bot"] and clock.now == pytest.approx(1000.03)
    store.tat["group#-1"] = clock.now + 0.05  # another instance's send: the slot 20 ms after
    store.tat["bot"] = clock.now  # the guard's 30 ms, the bot idle by then
    asyncio.run(limiter.before_send(-1))
    assert store.writes == ["group#-1+bot"] * 2
    assert clock.now == pytest.approx(1000.08)  # the group's slot, the bot's from it on
    assert store.tat["bot"] == pytest.approx(clock.now + 1 / 28)
    asyncio.run(limiter.before_send(501))
    assert store.writes[2:] == ["chat#501", "bot"]


def test_a_group_send_refused_by_the_bot_books_the_bot_and_reserves_nothing() -> None:
    """With one write there is no group slot left as a gap when the bot's queue is too long."""
    clock = ManualTime()
    limiter, store, bookings = throttle(clock)
    store.tat["bot"] = clock.now + 60  # a long bot hold
    limiter.begin_record("r1", 1, None)
    with pytest.raises(RateLimited) as deferred:
        asyncio.run(limiter.before_send(-1))
    assert deferred.value.key == "bot" and bookings.items["r1"].key == "bot"
    assert "group#-1" not in store.tat and store.released == []
