"""The shared GCRA limiter on DynamoDB (moto): instances share one budget."""

from __future__ import annotations

import asyncio
from collections.abc import Iterator
from typing import Any

import boto3
import pytest
from moto import mock_aws
from topicdesk.adapters.rate_limiter import DynamoBookings, DynamoTatStore, SharedThrottle
from topicdesk.domain.errors import RateLimited
from topicdesk.domain.limiter import LimitSettings, Rule

SETTINGS = LimitSettings(bot_per_second=28, chat_per_second=0.95, group_per_minute=19)


@pytest.fixture
def table() -> Iterator[Any]:
    with mock_aws():
        dynamodb = boto3.resource("dynamodb", region_name="us-east-1")
        dynamodb.create_table(
            TableName="limits",
            KeySchema=[{"AttributeName": "pk", "KeyType": "HASH"}],
            AttributeDefinitions=[{"AttributeName": "pk", "AttributeType": "S"}],
            BillingMode="PAY_PER_REQUEST",
        )
        yield dynamodb.Table("limits")


class FakeTime:
    def __init__(self) -> None:
        self.now = 1_000.0
        self.slept: list[float] = []

    def clock(self) -> float:
        return self.now

    async def sleep(self, seconds: float) -> None:
        self.slept.append(seconds)


def test_reserve_on_idle_then_busy_keys(table: Any) -> None:
    store = DynamoTatStore(table)
    rule = Rule("group#-1", 60 / 19)
    first = store.reserve(rule, 1000.0, 3.5)
    second = store.reserve(rule, 1000.0, 3.5)
    assert first.wait == 0.0 and second.wait == pytest.approx(60 / 19, abs=1e-3)
    with pytest.raises(RateLimited) as refused:
        store.reserve(rule, 1000.0, 3.5)
    assert refused.value.retry_after == pytest.approx(2 * 60 / 19, abs=1e-3)
    assert float(table.get_item(Key={"pk": "group#-1"})["Item"]["tat"]) == pytest.approx(
        1000 + 2 * 60 / 19, abs=1e-3
    )
    assert int(table.get_item(Key={"pk": "group#-1"})["Item"]["expires_at"]) > 1000


def test_two_instances_share_one_budget(table: Any) -> None:
    """Each instance alone would send at once; together they queue behind each other."""
    times = FakeTime()
    a = SharedThrottle(DynamoTatStore(table), SETTINGS, clock=times.clock, sleep=times.sleep)
    b = SharedThrottle(DynamoTatStore(table), SETTINGS, clock=times.clock, sleep=times.sleep)

    async def burst() -> None:
        await a.before_send(42)
        await b.before_send(42)
        await a.before_send(42)

    asyncio.run(burst())
    assert times.slept == pytest.approx([1 / 0.95, 2 / 0.95], abs=1e-3)


def test_a_429_holds_the_key_for_every_instance(table: Any) -> None:
    times = FakeTime()
    a = SharedThrottle(DynamoTatStore(table), SETTINGS, clock=times.clock, sleep=times.sleep)
    b = SharedThrottle(DynamoTatStore(table), SETTINGS, clock=times.clock, sleep=times.sleep)
    a.penalize(-100, retry_after=30)
    with pytest.raises(RateLimited) as refused:
        asyncio.run(b.before_send(-100))
    assert refused.value.retry_after == pytest.approx(30, abs=1e-3)
    # A shorter 429 later does not shorten the hold.
    a.penalize(-100, retry_after=5)
    held = float(table.get_item(Key={"pk": "group#-100"})["Item"]["tat"])
    assert held == pytest.approx(1030, abs=1e-3)


def test_a_wait_past_the_invocation_deadline_defers_instead(table: Any) -> None:
    times = FakeTime()
    throttle = SharedThrottle(DynamoTatStore(table), SETTINGS, clock=times.clock, sleep=times.sleep)
    asyncio.run(throttle.before_send(-7))  # the group's slot is now taken for 60/19 s
    throttle.set_deadline(times.now + 1.0)  # but this record must finish within 1 s
    with pytest.raises(RateLimited) as deferred:
        asyncio.run(throttle.before_send(-7))
    assert deferred.value.retry_after == pytest.approx(60 / 19, abs=1e-3)
    assert times.slept == []
    throttle.set_deadline(None)
    asyncio.run(throttle.before_send(-7))
    assert times.slept == pytest.approx([60 / 19], abs=1e-3)


def test_a_deferred_record_books_its_slot_and_finds_it_when_it_returns(table: Any) -> None:
    """Fairness: others cannot push a deferred record back further while it waits."""
    times = FakeTime()
    store, bookings = DynamoTatStore(table), DynamoBookings(table)
    a = SharedThrottle(store, SETTINGS, bookings=bookings, clock=times.clock, sleep=times.sleep)
    b = SharedThrottle(store, SETTINGS, bookings=bookings, clock=times.clock, sleep=times.sleep)
    interval = 60 / 19
    a.begin_record("first", 1, None)
    asyncio.run(a.before_send(-9))  # slot 0
    asyncio.run(a.before_send(-9))  # slot 1: slept one interval
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
    tat_before = float(table.get_item(Key={"pk": "group#-9"})["Item"]["tat"])
    times.slept.clear()
    a.begin_record("deferred", 2, None)
    asyncio.run(a.before_send(-9))
    assert times.slept == []
    assert float(table.get_item(Key={"pk": "group#-9"})["Item"]["tat"]) == tat_before
    assert "Item" not in table.get_item(Key={"pk": "book#deferred"})


def test_a_429_during_a_sleep_holds_the_already_reserved_send(table: Any) -> None:
    """A slot reserved before Telegram's 429 arrived must not be used before retry_after."""
    times = FakeTime()
    other = SharedThrottle(DynamoTatStore(table), SETTINGS, clock=times.clock, sleep=times.sleep)

    async def sleep_while_a_429_arrives(seconds: float) -> None:
        times.slept.append(seconds)
        times.now += seconds
        other.penalize(-11, retry_after=30)  # another instance was refused meanwhile

    sleeper = SharedThrottle(
        DynamoTatStore(table), SETTINGS, clock=times.clock, sleep=sleep_while_a_429_arrives
    )
    asyncio.run(sleeper.before_send(-11))  # slot 0, no sleep
    with pytest.raises(RateLimited) as held:
        asyncio.run(sleeper.before_send(-11))  # slot 1: sleeps, then finds the hold
    assert held.value.retry_after == pytest.approx(30, abs=1e-3)
