"""Sessions expire after the stage's retention (moto): the TTL attribute is set on activity and
the session's topic index, roster entry and message links never outlive it by much, nor expire
before it."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import boto3
import pytest
from moto import mock_aws
from topicdesk.adapters.dynamodb import DynamoMessageMap, DynamoSessionRepository
from topicdesk.adapters.dynamodb.erasure import DynamoPersonData
from topicdesk.adapters.dynamodb.sessions import BELONGINGS_SLACK_SECONDS
from topicdesk.contract import DATA_TABLE
from topicdesk.domain.model import MessageRef, Person

from infra.definitions import create_tables

PK, SK = DATA_TABLE.partition_key, DATA_TABLE.sort_key

DAY = 86400
TTL = DATA_TABLE.ttl_attribute


@pytest.fixture
def data() -> Iterator[Any]:
    with mock_aws():
        dynamodb = boto3.resource("dynamodb", region_name="us-east-1")
        yield dynamodb.Table(create_tables(dynamodb, lambda suffix: f"t-{suffix}").data)


def expiry(data: Any, pk: str, sk: str) -> int:
    return int(data.get_item(Key={PK: pk, SK: sk})["Item"][TTL])


def test_activity_moves_the_expiry_and_the_belongings_follow_at_most_daily(data: Any) -> None:
    now = [1_700_000_000.0]
    sessions = DynamoSessionRepository(data, retention_seconds=30 * DAY, clock=lambda: now[0])
    anna = Person(user_id=501, first_name="Anna")
    assert sessions.claim_topic_creation(anna, -1001, "me", now[0], 30)
    assert expiry(data, "PERSON#501", "SESSION") == int(now[0]) + 30 * DAY
    sessions.attach_topic(501, -1001, 77, "me")
    linked = int(now[0]) + 30 * DAY + BELONGINGS_SLACK_SECONDS
    assert expiry(data, "TOPIC#-1001#77", "TOPIC") == linked
    assert expiry(data, "PEOPLE#1", "501") == linked

    now[0] += 3600  # an hour later: the session moves, its belongings still outlive it
    sessions.increment(501, "messages_in")
    assert expiry(data, "PERSON#501", "SESSION") == int(now[0]) + 30 * DAY
    assert expiry(data, "TOPIC#-1001#77", "TOPIC") == linked

    now[0] += 2 * DAY  # the session outran them: they are moved along with it
    sessions.increment(501, "messages_out")
    session_expiry = expiry(data, "PERSON#501", "SESSION")
    assert session_expiry == int(now[0]) + 30 * DAY
    for pk, sk in (("TOPIC#-1001#77", "TOPIC"), ("PEOPLE#1", "501")):
        assert expiry(data, pk, sk) == session_expiry + BELONGINGS_SLACK_SECONDS
    assert sessions.get(501).messages_out == 1  # type: ignore[union-attr]


def test_message_links_expire_with_a_short_retention_and_point_from_the_person(
    data: Any,
) -> None:
    links = DynamoMessageMap(data, ttl_seconds=7 * DAY)
    links.link(MessageRef(501, 10), MessageRef(-1001, 900))
    items = data.scan()["Items"]
    assert {(i[PK], i[SK]) for i in items} == {
        ("MSG#-1001#900", "MAP"),
        ("PERSON#501", "MSG#501#10"),  # the private side, where erasing the person queries
    }
    assert len({int(i[TTL]) for i in items}) == 1
    assert links.peer(MessageRef(-1001, 900)) == MessageRef(501, 10)
    assert links.peer(MessageRef(501, 10)) == MessageRef(-1001, 900)
    links.link(MessageRef(-1001, 5), MessageRef(-1001, 6))  # operators' own: no person
    assert not [i for i in data.scan()["Items"] if i[PK] == "PERSON#-1001"]


def test_erasing_finds_what_other_features_keep_about_the_person(data: Any) -> None:
    """The inbox's conversation record (in the group's partition) and anything kept in the
    person's own partition (a new person's question) go with them; others' stay."""
    limits = boto3.resource("dynamodb", region_name="us-east-1").Table("t-limits")
    sessions = DynamoSessionRepository(data)
    for user in (501, 502):
        sessions.claim_topic_creation(Person(user, "P"), -1001, "me", 1.0, 30)
        sessions.attach_topic(user, -1001, user - 400, "me")
        data.put_item(Item={PK: "INBOX#-1001", SK: f"CONV#{user}", "state": "new"})
        data.put_item(Item={PK: f"PERSON#{user}", SK: "CHALLENGE", "answer": "cat"})
    data.put_item(Item={PK: "INBOX#-1001", SK: "GROUP", "dirty": True})
    erased = DynamoPersonData(data, limits)
    assert erased.erase_belongings(501) == {
        "message_links": 0,
        "other": 1,
        "limiter_keys": 0,
        "inbox": 1,
    }
    assert erased.erase_anchors(501) == {"session": 1, "topic_index": 1, "roster": 1}
    left = {(i[PK], i[SK]) for i in data.scan()["Items"]}
    assert not [key for key in left if "501" in f"{key[0]} {key[1]}" or key[0].endswith("#101")]
    assert {
        ("INBOX#-1001", "CONV#502"),
        ("PERSON#502", "CHALLENGE"),
        ("INBOX#-1001", "GROUP"),
    } <= left
    assert data.get_item(Key={PK: "SHARD#-1001", SK: "COUNT"})["Item"]["people"] == 1
    assert erased.erase_anchors(501) == {"roster": 0}  # again: nothing left, no error
