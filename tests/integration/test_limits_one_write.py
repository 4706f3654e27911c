"""A send to an operators' group reserves its group's slot and the bot's in one conditional
UpdateItem (both kept on the bot's item) when the group's slot is near, on DynamoDB (moto)."""

from __future__ import annotations

import asyncio
from collections.abc import Iterator
from decimal import Decimal
from typing import Any

import boto3
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from moto import mock_aws
from topicdesk.adapters.limits_items import location
from topicdesk.adapters.rate_limiter import DynamoTatStore
from topicdesk.contract import LIMITS_TABLE
from topicdesk.domain.errors import RateLimited
from topicdesk.domain.limiter import NEAR_SECONDS, LimitSettings, Rule
from topicdesk.domain.throttle import SharedThrottle

from infra.definitions import LIMITS, create_table
from tests.support.clocks import ManualTime

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


@pytest.fixture(scope="module")
def dynamodb() -> Iterator[Any]:
    with mock_aws():
        resource = boto3.resource("dynamodb", region_name="us-east-1")
        create_table(resource, "limits", LIMITS.layout, ttl=False)
        yield resource.Table("limits")


def bot_item(table: Any) -> dict[str, Any]:
    item = table.get_item(Key={LIMITS_TABLE.partition_key: "bot"}).get("Item") or {}
    return {k: float(v) if isinstance(v, Decimal) else v for k, v in item.items()}


def seed(table: Any, group_tat: float | None, bot_tat: float | None) -> None:
    table.delete_item(Key={LIMITS_TABLE.partition_key: "bot"})
    item: dict[str, Any] = {LIMITS_TABLE.partition_key: "bot"}
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
    dynamodb: Any, group_at: float | None, bot_at: float | None, seen: bool
) -> None:
    """Whatever the two TATs, the result is GCRA's on each key with the bot's slot never
    before the group's; an instance that has seen the TATs (its last write, or a failed
    condition's old item) writes once, one that guesses wrong twice at most."""
    group_tat = None if group_at is None else NOW + group_at
    bot_tat = None if bot_at is None else NOW + bot_at
    seed(dynamodb, group_tat, bot_tat)
    table = CountingTable(dynamodb)
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
        assert bot_item(dynamodb).get(location(GROUP.key)[1]) == (
            None if group_tat is None else pytest.approx(group_tat)
        )  # nothing reserved
        return
    assert table.updates == 1 if seen else table.updates <= 2
    item = bot_item(dynamodb)
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


def test_a_throttled_group_send_is_one_write_and_the_hold_check_one_read(dynamodb: Any) -> None:
    """Through the throttle: an idle group is one write; a 429's hold on the group (an
    attribute of the bot's item) holds the next send, read in one consistent read."""
    seed(dynamodb, None, None)
    table, times = CountingTable(dynamodb), ManualTime()
    limits = LimitSettings(bot_per_second=28, chat_per_second=0.95, group_per_minute=19)
    throttle = SharedThrottle(DynamoTatStore(table), limits, clock=times.clock, sleep=times.sleep)
    asyncio.run(throttle.before_send(-7))
    assert table.updates == 1 and times.slept == []
    throttle.penalize(-7, retry_after=30)  # the group's hold and TAT: two writes
    item = bot_item(dynamodb)
    assert float(item[location(GROUP.key)[2]]) == pytest.approx(times.now + 30)
    assert "hold_until" not in item  # a long 429 is the group's, not the bot's
    with pytest.raises(RateLimited) as held:
        asyncio.run(throttle.before_send(-7))
    assert held.value.key == GROUP.key and held.value.retry_after == pytest.approx(30, abs=1e-3)
