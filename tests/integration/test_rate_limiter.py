"""The shared GCRA limiter on DynamoDB (moto): instances share one budget; a send to an
operators' group reserves its group's slot and the bot's in one conditional UpdateItem (both
kept on the bot's item) when the group's slot is near."""

from __future__ import annotations

import asyncio
from collections.abc import Iterator, Sequence
from dataclasses import replace
from decimal import Decimal
from typing import Any

import boto3
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from moto import mock_aws
from topicdesk.adapters.limits_items import location
from topicdesk.adapters.rate_limiter import DynamoBookings, DynamoTatStore
from topicdesk.contract import LIMITS_TABLE
from topicdesk.domain.errors import RateLimited
from topicdesk.domain.limiter import BOT_WIDE_RETRY_AFTER, NEAR_SECONDS, LimitSettings, Rule
from topicdesk.domain.ports import Booking
from topicdesk.domain.throttle import HOLD_CHECK_LEAD_SECONDS, SharedThrottle

from infra.definitions import LIMITS, create_table
from tests.support.clocks import ManualTime

SETTINGS = LimitSettings(bot_per_second=28, chat_per_second=0.95, group_per_minute=19)


@pytest.fixture
def table() -> Iterator[Any]:
    with mock_aws():
        dynamodb = boto3.resource("dynamodb", region_name="us-east-1")
        # The stack's limits table, from infra's own definition (no TTL: as before).
        create_table(dynamodb, "limits", LIMITS.layout, ttl=False)
        yield dynamodb.Table("limits")


def limits_key(name: str) -> dict[str, str]:
    """A limits-table item's key; the names are the limiter's (bot, chat#.., group#.., book#..)."""
    return {LIMITS_TABLE.partition_key: name}


def limits_item(table: Any, name: str) -> dict[str, Any]:
    return dict(table.get_item(Key=limits_key(name))["Item"])


def tat_of(table: Any, key: str, attribute: int = 1) -> float:
    """A limiter key's TAT (``attribute=2``: its hold) wherever it is kept (an operators'
    group's: on the bot's item)."""
    spot = location(key)
    return float(limits_item(table, spot[0])[spot[attribute]])


def set_tat(table: Any, key: str, tat: float) -> None:
    item, attribute, _ = location(key)
    table.update_item(
        Key=limits_key(item),
        UpdateExpression="SET #t = :tat",
        ExpressionAttributeNames={"#t": attribute},
        ExpressionAttributeValues={":tat": Decimal(str(tat))},
    )


def test_reserve_on_idle_then_busy_keys(table: Any) -> None:
    store = DynamoTatStore(table)
    rule = Rule("group#-1", 60 / 19)
    first = store.reserve(rule, 1000.0, 3.5)
    second = store.reserve(rule, 1000.0, 3.5)
    assert first.wait == 0.0 and second.wait == pytest.approx(60 / 19, abs=1e-3)
    with pytest.raises(RateLimited) as refused:
        store.reserve(rule, 1000.0, 3.5)
    assert refused.value.retry_after == pytest.approx(2 * 60 / 19, abs=1e-3)
    assert tat_of(table, "group#-1") == pytest.approx(1000 + 2 * 60 / 19, abs=1e-3)
    # An operators' group's TAT is kept on the bot's item, which never expires (it keeps
    # bookings hours ahead); a private chat's is its own item and expires after its TAT.
    assert LIMITS_TABLE.ttl_attribute not in limits_item(table, "bot")
    store.reserve(Rule("chat#5", 1 / 0.95), 1000.0, 3.5)
    assert int(limits_item(table, "chat#5")[LIMITS_TABLE.ttl_attribute]) > 1000


def test_two_instances_share_one_budget(table: Any) -> None:
    """Each instance alone would send at once; together they queue behind each other."""
    times = ManualTime()
    a = SharedThrottle(DynamoTatStore(table), SETTINGS, clock=times.clock, sleep=times.sleep)
    b = SharedThrottle(DynamoTatStore(table), SETTINGS, clock=times.clock, sleep=times.sleep)

    asyncio.run(a.before_send(42))
    assert times.now == 1000.0
    asyncio.run(b.before_send(42))
    assert times.now == pytest.approx(1000 + 1 / 0.95, abs=1e-3)
    asyncio.run(a.before_send(42))
    assert times.now == pytest.approx(1000 + 2 / 0.95, abs=1e-3)


def test_a_429_holds_the_key_for_every_instance(table: Any) -> None:
    times = ManualTime()
    a = SharedThrottle(DynamoTatStore(table), SETTINGS, clock=times.clock, sleep=times.sleep)
    b = SharedThrottle(DynamoTatStore(table), SETTINGS, clock=times.clock, sleep=times.sleep)
    a.penalize(-100, retry_after=30)
    with pytest.raises(RateLimited) as refused:
        asyncio.run(b.before_send(-100))
    assert refused.value.retry_after == pytest.approx(30, abs=1e-3)
    # A shorter 429 later does not shorten the hold.
    a.penalize(-100, retry_after=5)
    held = tat_of(table, "group#-100")
    assert held == pytest.approx(1030, abs=1e-3)


def test_a_wait_past_the_invocation_deadline_defers_instead(table: Any) -> None:
    times = ManualTime()
    throttle = SharedThrottle(DynamoTatStore(table), SETTINGS, clock=times.clock, sleep=times.sleep)
    asyncio.run(throttle.before_send(-7))  # the group's slot is now taken for 60/19 s
    throttle.set_deadline(times.now + 1.0)  # but this record must finish within 1 s
    with pytest.raises(RateLimited) as deferred:
        asyncio.run(throttle.before_send(-7))
    assert deferred.value.retry_after == pytest.approx(60 / 19, abs=1e-3)
    assert times.slept == []
    throttle.set_deadline(None)
    asyncio.run(throttle.before_send(-7))
    assert times.now == pytest.approx(1000 + 60 / 19, abs=1e-3)


def test_a_deferred_record_books_its_slot_and_finds_it_when_it_returns(table: Any) -> None:
    """Fairness: others cannot push a deferred record back further while it waits."""
    times = ManualTime()
    store, bookings = DynamoTatStore(table), DynamoBookings(table)
    a = SharedThrottle(store, SETTINGS, bookings=bookings, clock=times.clock, sleep=times.sleep)
    b = SharedThrottle(store, SETTINGS, bookings=bookings, clock=times.clock, sleep=times.sleep)
    interval = 60 / 19
    a.begin_record("first", 1, None)
    asyncio.run(a.before_send(-9))  # slot 0
    asyncio.run(a.before_send(-9))  # slot 1: slept one interval
    times.now = 1000.0  # the next record asks at the same moment as the first two
    a.begin_record("deferred", 1, None)
    with pytest.raises(RateLimited) as deferred:
        asyncio.run(a.before_send(-9))  # slot 2 is beyond max_wait: booked, deferred
    assert deferred.value.retry_after == pytest.approx(2 * interval, abs=1e-3)
    # Meanwhile another instance queues up behind the booking, not in front of it.
    b.begin_record("other", 1, None)
    times.now += interval
    with pytest.raises(RateLimited) as behind:
        asyncio.run(b.before_send(-9))
    assert behind.value.retry_after == pytest.approx(2 * interval, abs=1e-3)  # slot 3
    # The deferred record comes back at its slot and goes without waiting or re-queueing.
    times.now = 1000.0 + 2 * interval
    tat_before = tat_of(table, "group#-9")
    times.slept.clear()
    a.begin_record("deferred", 2, None)
    asyncio.run(a.before_send(-9))
    assert times.slept == []
    assert tat_of(table, "group#-9") == tat_before
    assert "Item" not in table.get_item(Key=limits_key("book#deferred"))


@pytest.mark.parametrize(
    ("refused_chat", "retry_after", "sending_chat", "held_key"),
    [
        (-11, 30, -11, "group#-11"),  # the same group, a long 429
        (999, 2, 12, "bot"),  # another chat, a short 429: bot-wide
    ],
)
def test_a_429_during_a_sleep_holds_the_already_reserved_send(
    table: Any, refused_chat: int, retry_after: float, sending_chat: int, held_key: str
) -> None:
    """A slot reserved before Telegram's 429 arrived must not be used before retry_after."""
    times = ManualTime()
    other = SharedThrottle(DynamoTatStore(table), SETTINGS, clock=times.clock, sleep=times.sleep)

    async def sleep_while_a_429_arrives(seconds: float) -> None:
        times.slept.append(seconds)
        times.now += seconds
        other.penalize(refused_chat, retry_after=retry_after)  # another instance was refused

    sleeper = SharedThrottle(
        DynamoTatStore(table), SETTINGS, clock=times.clock, sleep=sleep_while_a_429_arrives
    )
    asyncio.run(sleeper.before_send(sending_chat))  # slot 0, no sleep
    with pytest.raises(RateLimited) as held:
        asyncio.run(sleeper.before_send(sending_chat))  # the next slot: sleeps, finds the hold
    assert held.value.key == held_key
    assert held.value.retry_after == pytest.approx(retry_after, abs=1e-3)


def test_a_short_429_holds_the_whole_bot_a_long_one_only_its_chat(table: Any) -> None:
    """Telegram does not say which limit refused: a retry_after of a few seconds may be the
    bot's 30/s (every chat waits), a long one is that chat's or group's penalty."""
    times = ManualTime()
    a = SharedThrottle(DynamoTatStore(table), SETTINGS, clock=times.clock, sleep=times.sleep)
    b = SharedThrottle(DynamoTatStore(table), SETTINGS, clock=times.clock, sleep=times.sleep)
    a.penalize(-300, retry_after=40)
    asyncio.run(b.before_send(301))  # another chat: not held by the group's penalty
    assert times.now == 1000.0
    a.penalize(302, retry_after=BOT_WIDE_RETRY_AFTER)
    with pytest.raises(RateLimited) as held:
        asyncio.run(b.before_send(303))  # another chat, but the bot is held
    assert held.value.key == "bot"
    assert held.value.retry_after == pytest.approx(BOT_WIDE_RETRY_AFTER, abs=1e-3)


class RecordingStore(DynamoTatStore):
    def __init__(self, table: Any, times: ManualTime) -> None:
        super().__init__(table)
        self.times = times
        self.checked_at: list[float] = []

    def held_until(self, keys: Sequence[str]) -> tuple[float, str]:
        self.checked_at.append(self.times.now)
        return super().held_until(keys)


def test_the_hold_is_looked_for_before_the_slot_not_between_it_and_the_send(table: Any) -> None:
    """The read's latency would otherwise delay sends unevenly, and Telegram counts a window
    of arrivals."""
    times = ManualTime()
    store = RecordingStore(table, times)
    throttle = SharedThrottle(store, SETTINGS, clock=times.clock, sleep=times.sleep)
    asyncio.run(throttle.before_send(-21))
    asyncio.run(throttle.before_send(-21))
    slot = 1000 + 60 / 19
    assert store.checked_at == pytest.approx([slot - HOLD_CHECK_LEAD_SECONDS], abs=1e-3)
    assert times.now == pytest.approx(slot, abs=1e-3)


def test_topic_creation_spends_the_groups_budget_by_default(table: Any) -> None:
    """Counted as strictly as Telegram might: a topic is one of the group's 20/min."""
    times = ManualTime()
    throttle = SharedThrottle(DynamoTatStore(table), SETTINGS, clock=times.clock, sleep=times.sleep)
    asyncio.run(throttle.before_send(-41, kind="topic"))
    asyncio.run(throttle.before_send(-41))  # the card waits for the group's next slot
    assert times.now == pytest.approx(1000 + 60 / 19, abs=1e-3)


def test_each_message_of_a_call_spends_a_unit_and_the_call_goes_when_the_last_is_due(
    table: Any,
) -> None:
    """copyMessages of 3 into a group: the call waits for its third unit's slot (so the
    window before it leaves room for all three) and the next send waits one unit more."""
    times = ManualTime()
    patient = replace(SETTINGS, max_wait=60.0)
    throttle = SharedThrottle(DynamoTatStore(table), patient, clock=times.clock, sleep=times.sleep)
    asyncio.run(throttle.before_send(-42))
    assert times.now == 1000.0
    asyncio.run(throttle.before_send(-42, 3))
    # ... and on the bot's key too: its own 3 units, taken when the group's slot came.
    assert times.now == pytest.approx(1000 + 3 * 60 / 19 + 2 / 28, abs=1e-3)
    asyncio.run(throttle.before_send(-42))
    assert times.now == pytest.approx(1000 + 4 * 60 / 19, abs=1e-3)


def test_a_call_too_big_for_the_wait_is_deferred_with_a_booking_not_slept(table: Any) -> None:
    times = ManualTime()
    bookings = DynamoBookings(table)
    throttle = SharedThrottle(
        DynamoTatStore(table), SETTINGS, bookings=bookings, clock=times.clock, sleep=times.sleep
    )
    throttle.begin_record("album", 1, None)
    with pytest.raises(RateLimited) as deferred:
        asyncio.run(throttle.before_send(-43, 10))  # 9 units ahead of its slot: 28 s
    assert deferred.value.retry_after == pytest.approx(9 * 60 / 19, abs=0.05)
    assert times.now == 1000.0  # nothing slept
    booking = bookings.take("album")
    assert booking is not None and booking.key == "group#-43"


def test_a_record_with_others_behind_it_defers_rather_than_sleeps(table: Any) -> None:
    """Patience: records of other conversations wait behind it in the batch."""
    times = ManualTime()
    bookings = DynamoBookings(table)
    throttle = SharedThrottle(
        DynamoTatStore(table), SETTINGS, bookings=bookings, clock=times.clock, sleep=times.sleep
    )
    asyncio.run(throttle.before_send(-44))  # the group's slot now taken for 3.16 s
    throttle.begin_record("busy", 1, None, patience=0.5)
    with pytest.raises(RateLimited):
        asyncio.run(throttle.before_send(-44))
    assert times.now == 1000.0  # nothing slept: deferred with its slot booked
    assert bookings.take("busy") is not None
    asyncio.run(throttle.before_send(-45))
    throttle.begin_record("alone", 1, None)  # the batch's last record may sleep its wait
    asyncio.run(throttle.before_send(-45))
    assert times.now == pytest.approx(1000 + 60 / 19, abs=1e-3)


def test_topic_creation_relaxed_has_its_own_bucket_not_the_groups_messages(table: Any) -> None:
    times = ManualTime()
    relaxed = replace(SETTINGS, count_each_message=False)
    throttle = SharedThrottle(DynamoTatStore(table), relaxed, clock=times.clock, sleep=times.sleep)
    asyncio.run(throttle.before_send(-40, kind="topic"))
    asyncio.run(throttle.before_send(-40))  # the group's first message: no wait
    assert times.now == 1000.0
    asyncio.run(throttle.before_send(-40, kind="topic"))  # the second topic: the group's pace
    assert times.now == pytest.approx(1000 + 60 / 19, abs=1e-3)


def test_a_slot_never_starts_before_the_reservation_could_land(table: Any) -> None:
    """With a latency guard, an idle key's first slot is the guard away, not "now" as the
    sender read it before its round trip."""
    times = ManualTime()
    throttle = SharedThrottle(
        DynamoTatStore(table), SETTINGS, clock=times.clock, sleep=times.sleep, latency_guard=0.03
    )
    asyncio.run(throttle.before_send(-50))
    assert times.now == pytest.approx(1000.03, abs=1e-3)
    tat = tat_of(table, "group#-50")
    assert tat == pytest.approx(1000.03 + 60 / 19, abs=1e-3)


def test_a_sender_that_wakes_late_takes_the_next_bot_slot_instead_of_bunching(table: Any) -> None:
    times = ManualTime()
    other = DynamoTatStore(table)

    async def oversleep(seconds: float) -> None:  # a starved process wakes 50 ms late, and
        times.slept.append(seconds)  # meanwhile another instance queued behind its bot slot
        times.now += seconds + 0.05
        other.reserve(Rule("bot", 1 / 28), times.now - 0.05, 3.5)

    throttle = SharedThrottle(DynamoTatStore(table), SETTINGS, clock=times.clock, sleep=oversleep)
    bot_interval = 1 / 28
    asyncio.run(throttle.before_send(61))  # slot 0 of the bot, no sleep
    asyncio.run(throttle.before_send(62))  # bot slot 1: wakes 50 ms late, more than half of
    bot = tat_of(table, "bot")  # an interval, someone behind: re-queues
    assert bot > 1000 + 3 * bot_interval + 0.04
    chat = tat_of(table, "chat#62")
    assert chat == pytest.approx(1000 + 1 / 0.95, abs=1e-3)  # 50 ms means nothing to 1/s


def test_a_late_sender_takes_a_new_slot_even_with_nobody_behind_it(table: Any) -> None:
    """A sender that finds the key idle later would go right after the TAT the late send
    left, not after the send: the late send takes a new slot (here on the idle key, at once:
    no latency guard in this test)."""
    times = ManualTime()

    async def oversleep(seconds: float) -> None:
        times.slept.append(seconds)
        times.now += seconds + 0.05

    throttle = SharedThrottle(DynamoTatStore(table), SETTINGS, clock=times.clock, sleep=oversleep)
    asyncio.run(throttle.before_send(61))
    asyncio.run(throttle.before_send(62))  # bot slot 1, woke 50 ms late: the key is idle
    assert times.now == pytest.approx(1000 + 1 / 28 + 0.05, abs=1e-3)  # went when it woke
    bot = tat_of(table, "bot")
    assert bot == pytest.approx(times.now + 1 / 28, abs=1e-3)  # the TAT follows the send


def deferred_with_a_booking(
    table: Any, times: ManualTime, *, key: str, busy_until: int, chat_id: int, record: str
) -> SharedThrottle:
    """A throttle whose record was deferred on ``key`` (busy until ``busy_until``) and booked
    its slot there, now back for it (the caller moves the clock and sends again)."""
    throttle = SharedThrottle(
        DynamoTatStore(table),
        SETTINGS,
        bookings=DynamoBookings(table),
        clock=times.clock,
        sleep=times.sleep,
    )
    set_tat(table, key, busy_until)
    throttle.begin_record(record, 1, None)
    with pytest.raises(RateLimited) as deferred:
        asyncio.run(throttle.before_send(chat_id))
    assert deferred.value.key == key
    assert deferred.value.retry_after == pytest.approx(busy_until - times.now)
    throttle.begin_record(record, 2, None)
    return throttle


def test_a_broadcast_deferred_on_the_bots_key_finds_its_booked_bot_slot(table: Any) -> None:
    """The key that refused (here the bot's, not the private chat's) is the booked one."""
    times = ManualTime()
    throttle = deferred_with_a_booking(
        table, times, key="bot", busy_until=1010, chat_id=77, record="job-1"
    )
    times.now = 1010.0
    asyncio.run(throttle.before_send(77))
    assert times.slept == []  # its slot, at once
    assert tat_of(table, "bot") == pytest.approx(1010 + 1 / 28)


def test_a_booking_missed_by_more_than_half_an_interval_is_not_used(table: Any) -> None:
    times = ManualTime()
    throttle = deferred_with_a_booking(
        table, times, key="bot", busy_until=1010, chat_id=78, record="job-2"
    )
    times.now = 1010.9  # back 0.9 s late (SQS hides in whole seconds)
    asyncio.run(throttle.before_send(78))
    # A fresh slot after the bot's current TAT, not the stale one (which would collide).
    assert tat_of(table, "bot") == pytest.approx(1010.9 + 1 / 28, abs=1e-3)


def test_a_groups_booking_is_used_even_when_the_record_returns_a_second_late(table: Any) -> None:
    """A group's 60-second window absorbs a second: no second deferral for that."""
    times = ManualTime()
    throttle = deferred_with_a_booking(
        table, times, key="group#-80", busy_until=1030, chat_id=-80, record="update-3"
    )
    times.now = 1031.0
    asyncio.run(throttle.before_send(-80))
    assert times.slept == []
    tat = tat_of(table, "group#-80")
    assert tat == pytest.approx(1030 + 60 / 19, abs=1e-3)  # nothing reserved a second time


def test_a_send_held_by_its_group_takes_the_bots_slot_when_it_goes(table: Any) -> None:
    """The bot's slot reserved together with a group's later one would pass unused, and the
    send would then go between two other senders' bot slots."""
    times = ManualTime()
    throttle = SharedThrottle(DynamoTatStore(table), SETTINGS, clock=times.clock, sleep=times.sleep)
    asyncio.run(throttle.before_send(-90))  # the group's next slot is 60/19 s away
    asyncio.run(throttle.before_send(-90))
    assert times.now == pytest.approx(1000 + 60 / 19, abs=1e-3)
    bot = tat_of(table, "bot")
    assert bot == pytest.approx(times.now + 1 / 28, abs=1e-3)  # taken at the send, not before


def test_a_booked_bot_slot_passed_while_the_chat_waited_is_taken_again(table: Any) -> None:
    times = ManualTime()
    throttle = deferred_with_a_booking(
        table, times, key="bot", busy_until=1010, chat_id=79, record="job-4"
    )
    # The chat is busy till 1011.
    set_tat(table, "chat#79", 1011)
    times.now = 1010.0
    asyncio.run(throttle.before_send(79))
    assert times.now >= 1011.0
    bot = tat_of(table, "bot")
    assert bot == pytest.approx(times.now + 1 / 28, abs=1e-3)  # a fresh bot slot at the send


GROUP, BOT = Rule("group#-7", 60 / 19, late_slack=1.0), Rule("bot", 1 / 28, late_slack=0.5)
NOW = 1000.0


class CountingTable:
    """The limits table, counting the UpdateItem calls (each a write, failed or not)."""

    def __init__(self, table: Any) -> None:
        self.table, self.updates = table, 0

    def update_item(self, **arguments: Any) -> Any:
        self.updates += 1
        return self.table.update_item(**arguments)

    def __getattr__(self, name: str) -> Any:
        return getattr(self.table, name)


def bot_item(table: Any) -> dict[str, Any]:
    item = table.get_item(Key=limits_key("bot")).get("Item") or {}
    return {k: float(v) if isinstance(v, Decimal) else v for k, v in item.items()}


def seed(table: Any, group_tat: float | None, bot_tat: float | None) -> None:
    table.delete_item(Key=limits_key("bot"))
    item: dict[str, Any] = limits_key("bot")
    if group_tat is not None:
        item[location(GROUP.key)[1]] = Decimal(str(round(group_tat, 6)))
    if bot_tat is not None:
        item["tat"] = Decimal(str(round(bot_tat, 6)))
    table.put_item(Item=item)


# Seconds from now: none, far apart, or around the near window (where the forms meet).
offsets = st.one_of(st.none(), st.floats(-5.0, 3.0), st.floats(-0.01, 2 * NEAR_SECONDS)).map(
    lambda x: None if x is None else round(x, 4)
)


@settings(
    max_examples=120, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(group_at=offsets, bot_at=offsets, seen=st.booleans())
def test_a_group_send_whose_slot_is_near_is_one_write(
    table: Any, group_at: float | None, bot_at: float | None, seen: bool
) -> None:
    """Whatever the two TATs, the result is GCRA's on each key with the bot's slot never
    before the group's; an instance that has seen the TATs (its last write, or a failed
    condition's old item) writes once, one that guesses wrong twice at most."""
    group_tat = None if group_at is None else NOW + group_at
    bot_tat = None if bot_at is None else NOW + bot_at
    seed(table, group_tat, bot_tat)
    table = CountingTable(table)
    store = DynamoTatStore(table)
    if seen:  # what an instance learns from its own writes
        store._seen.update(
            {k: v for k, v in ((GROUP.key, group_tat), (BOT.key, bot_tat)) if v is not None}
        )
    group_slot = max(group_tat or 0.0, NOW)
    bot_slot = max(bot_tat or 0.0, group_slot)
    try:
        taken = store.reserve_near(GROUP, BOT, NOW, 3.5, 3.5)
    except RateLimited as refused:  # the bot's queue is past what the send may wait
        assert group_slot - NOW <= NEAR_SECONDS and bot_slot - NOW > 3.5
        assert refused.key == "bot" and refused.retry_after == pytest.approx(
            bot_slot - NOW, abs=1e-5
        )
        assert bot_item(table).get(location(GROUP.key)[1]) == (
            None if group_tat is None else pytest.approx(group_tat)
        )  # nothing reserved
        return
    assert table.updates == 1 if seen else table.updates <= 2
    item = bot_item(table)
    assert float(item[location(GROUP.key)[1]]) == pytest.approx(group_slot + GROUP.interval)
    assert taken[0].key == GROUP.key and taken[0].wait == pytest.approx(group_slot - NOW, abs=1e-5)
    if group_slot - NOW > NEAR_SECONDS:  # far: the group alone; the bot when it is near
        assert len(taken) == 1
        assert item.get("tat") == (None if bot_tat is None else pytest.approx(bot_tat))
        return
    assert [r.key for r in taken] == [GROUP.key, BOT.key]
    assert taken[1].wait == pytest.approx(bot_slot - NOW, abs=1e-5)
    assert float(item["tat"]) == pytest.approx(bot_slot + BOT.interval)
    assert LIMITS_TABLE.ttl_attribute not in item  # the bot's item never expires


def test_a_throttled_group_send_is_one_write_and_the_hold_check_one_read(table: Any) -> None:
    """Through the throttle: an idle group is one write; a 429's hold on the group (an
    attribute of the bot's item) holds the next send, read in one consistent read."""
    seed(table, None, None)
    table, times = CountingTable(table), ManualTime()
    limits = LimitSettings(bot_per_second=28, chat_per_second=0.95, group_per_minute=19)
    throttle = SharedThrottle(DynamoTatStore(table), limits, clock=times.clock, sleep=times.sleep)
    asyncio.run(throttle.before_send(-7))
    assert table.updates == 1 and times.slept == []
    throttle.penalize(-7, retry_after=30)  # the group's hold and TAT: two writes
    item = bot_item(table)
    assert float(item[location(GROUP.key)[2]]) == pytest.approx(times.now + 30)
    assert "hold_until" not in item  # a long 429 is the group's, not the bot's
    with pytest.raises(RateLimited) as held:
        asyncio.run(throttle.before_send(-7))
    assert held.value.key == GROUP.key and held.value.retry_after == pytest.approx(30, abs=1e-3)


def test_a_groups_booking_from_before_the_groups_moved_onto_the_bots_item_is_not_used(
    table: Any,
) -> None:
    """A booking on a group's own item (the layout before the bot's item kept the groups):
    its slot is not in the TAT others reserve behind now, so the record queues again."""
    bookings = DynamoBookings(table)
    bookings.save("update-7", Booking("group#-80", 1030.0))
    old = {"key": "group#-80", "slot": Decimal(1030)}
    table.put_item(Item={**limits_key("book#update-8"), **old})
    table.put_item(Item={**limits_key("book#update-9"), **old, "key": "chat#5"})
    assert bookings.take("update-7") == Booking("group#-80", 1030.0)
    assert bookings.take("update-8") is None  # saved by the old layout: not used, and gone
    assert bookings.take("update-8") is None
    assert bookings.take("update-9") == Booking("chat#5", 1030.0)  # a chat's stays its own
