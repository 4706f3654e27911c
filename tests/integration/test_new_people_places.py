"""The new-people line on moto's DynamoDB: a person takes one place in line however often their
records come back (a retry after a kill that lost the record's steps, their next message
before the first got its topic), and the place lives in their own partition."""

from __future__ import annotations

import asyncio
from typing import Any

from topicdesk.adapters.dynamodb.erasure import DynamoPersonData
from topicdesk.adapters.rate_limiter import DynamoTatStore
from topicdesk.adapters.waiting_line import DynamoWaitingLine
from topicdesk.contract import DATA_TABLE, LIMITS_TABLE, Env
from topicdesk.domain.errors import RateLimited
from topicdesk.domain.model import ChatMessage, Person
from topicdesk.domain.relay import RelaySettings
from topicdesk.domain.relay.newcomers import cap_rule
from topicdesk.domain.steps import Steps

from tests.support.aws_world import aws_world
from tests.support.fakes import InMemoryStepLog
from tests.support.relay_world import GROUP, relay_world


def place_key(user_id: int) -> dict[str, str]:
    """Where a person's place in the group's line is kept: their own partition."""
    assert DATA_TABLE.sort_key is not None
    return {DATA_TABLE.partition_key: f"PERSON#{user_id}", DATA_TABLE.sort_key: f"LINE#{GROUP}"}


def test_a_person_takes_one_place_in_line_however_often_their_records_come_back() -> None:
    with aws_world(bot_token="1:test", operator_chat_ids=[GROUP]) as aws:
        limits = aws.dynamodb.Table(aws.env[Env.LIMITS_TABLE])
        data = aws.dynamodb.Table(aws.env[Env.DATA_TABLE])
        world = relay_world(
            RelaySettings(operator_chat_ids=(GROUP,), new_topics_per_hour=2),
            new_topic_budget=DynamoTatStore(limits),
            waiting_line=DynamoWaitingLine(limits, data),
        )
        log = InMemoryStepLog()

        def write(user_id: int, message_id: int, *, crash: bool = False) -> bool:
            sender = Person(user_id=user_id, first_name=f"P{user_id}")
            message = ChatMessage(
                chat_id=user_id, message_id=message_id, sender=sender, kind="text", text="hi"
            )
            key = f"update#{user_id}:{message_id}"
            steps = Steps() if crash else Steps.load(log, key)  # killed: nothing written
            try:
                asyncio.run(world.relay.private_messages([message], steps))
            except RateLimited:
                if not crash:
                    asyncio.run(steps.flush())
                return False
            return True

        def tat() -> float:
            key = {LIMITS_TABLE.partition_key: f"newtopics#{GROUP}"}
            item: dict[str, Any] = limits.get_item(Key=key)["Item"]
            return float(item["tat"])

        interval = cap_rule(GROUP, 2).interval
        assert write(1, 1)  # the hour's one at once
        start = tat()
        for _ in range(5):  # the same held record, each attempt killed before its deferral
            assert not write(2, 1, crash=True)
        assert not write(2, 2)  # their second message, before the first got its topic
        assert not write(3, 1, crash=True)
        assert not write(3, 1)
        assert abs(tat() - (start + 2 * interval)) < 0.01  # one place per person
        places = [data.get_item(Key=place_key(user))["Item"]["due_at"] for user in (2, 3)]
        assert places[0] < places[1]  # in the order they came

        world.clock.current += interval  # person 2's place: their topic, and no new place
        assert write(2, 1, crash=True) and write(2, 3)
        assert not write(3, 2)
        assert abs(tat() - (start + 2 * interval)) < 0.01
        assert len(world.telegram.called("create_topic")) == 2

        # Another record of the same person that reserved meanwhile gives its place back.
        line = DynamoWaitingLine(limits, data)
        assert line.keep_place(GROUP, 9, 100.0) is None
        assert line.keep_place(GROUP, 9, 200.0) == 100.0

        # Erasing the person takes their place along (their partition).
        DynamoPersonData(data, limits).erase_belongings(3)
        assert "Item" not in data.get_item(Key=place_key(3))
