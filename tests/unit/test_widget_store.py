"""The widget conversation store: the DynamoDB adapter (on moto) and the in-memory fake obey
the same contract (``topicdesk.domain.widget.WidgetConversations``), and the queue record
survives its round trip."""

from __future__ import annotations

import json
from collections.abc import Iterator

import boto3
import pytest
from moto import mock_aws
from topicdesk.adapters.dynamodb.widget import DynamoWidgetConversations
from topicdesk.contract import WIDGET_SESSION_SECONDS
from topicdesk.domain.widget import (
    PageInfo,
    WidgetConversations,
    WidgetMessage,
    WidgetRecord,
    group_id,
    session_of_group,
)

from infra.definitions import create_tables
from tests.support.fakes import InMemoryWidgetConversations

NOW = 1_700_000_000.0


@pytest.fixture(params=["dynamodb", "memory"])
def store(request: pytest.FixtureRequest) -> Iterator[WidgetConversations]:
    if request.param == "memory":
        yield InMemoryWidgetConversations()
        return
    with mock_aws():
        dynamodb = boto3.resource("dynamodb", region_name="us-east-1")
        tables = create_tables(dynamodb, lambda suffix: f"widget-test-{suffix}")
        yield DynamoWidgetConversations(dynamodb.Table(tables.data))


def visitor(message_id: str, text: str = "hi", ts: int = 1) -> WidgetMessage:
    return WidgetMessage(id=message_id, sender="visitor", text=text, ts=ts)


def operator(message_id: str, text: str = "answer", ts: int = 2) -> WidgetMessage:
    return WidgetMessage(id=message_id, sender="operator", text=text, ts=ts)


def test_connections_of_a_session(store: WidgetConversations) -> None:
    store.open_connection("c1", "shop", NOW)
    store.open_connection("c2", "shop", NOW)
    assert store.connection("c1") is not None
    assert store.connection("c1").session_id is None  # type: ignore[union-attr]
    store.bind("c1", "session-1", NOW, PageInfo(url="https://shop.example/a", language="de"))
    store.bind("c2", "session-1", NOW)
    assert sorted(store.connections("session-1", NOW)) == ["c1", "c2"]
    assert store.connection("c2").project == "shop"  # type: ignore[union-attr]
    bound = store.connection("c1")
    assert bound is not None and bound.session_id == "session-1"
    assert bound.page == PageInfo(url="https://shop.example/a", language="de")
    store.drop_connection("c1")
    assert store.connections("session-1", NOW) == ["c2"]
    assert store.connections("session-1", NOW + 86_400) == []  # TTL passed: gone
    assert store.connection("c1") is None
    store.drop_connection("never-seen")  # $disconnect of a refused handshake: no error


def test_sessions_expire_after_their_last_message(store: WidgetConversations) -> None:
    store.start_session("session-1", "shop", NOW)
    store.start_session("session-1", "other", NOW + 5)  # a retried hello changes nothing
    found = store.session("session-1", NOW + 10)
    assert found is not None and found.project == "shop"
    assert store.session("session-2", NOW) is None
    later = NOW + WIDGET_SESSION_SECONDS - 100
    assert store.accept_visitor("session-1", visitor("m1"), later)
    assert store.session("session-1", NOW + WIDGET_SESSION_SECONDS + 1) is not None
    assert store.session("session-1", later + WIDGET_SESSION_SECONDS + 1) is None


def test_a_visitor_message_is_enqueued_until_confirmed_then_never_again(
    store: WidgetConversations,
) -> None:
    store.start_session("s", "shop", NOW)
    assert store.accept_visitor("s", visitor("m1"), NOW) is True
    # Recorded but its enqueue never confirmed (the function died): a resend enqueues it.
    assert store.accept_visitor("s", visitor("m1"), NOW + 1) is True
    store.confirm_queued("s", "m1")
    assert store.accept_visitor("s", visitor("m1", text="changed"), NOW + 2) is False
    assert [m.text for m in store.history("s")] == ["hi"]


def test_history_is_in_order_and_pending_answers_are_taken_once(
    store: WidgetConversations,
) -> None:
    store.start_session("s", "shop", NOW)
    store.accept_visitor("s", visitor("v1", "question"), NOW)
    assert store.record_operator("s", operator("o1", "pushed"), pushed=True, now=NOW + 1)
    assert store.record_operator("s", operator("o2", "kept 1"), pushed=False, now=NOW + 2)
    assert not store.record_operator("s", operator("o2", "again"), pushed=False, now=NOW + 3)
    assert store.record_operator("s", operator("o3", "kept 2"), pushed=False, now=NOW + 4)
    history = store.history("s")
    assert [(m.sender, m.text, m.pending) for m in history] == [
        ("visitor", "question", False),
        ("operator", "pushed", False),
        ("operator", "kept 1", True),
        ("operator", "kept 2", True),
    ]
    assert [m.text for m in store.history("s", limit=2)] == ["kept 1", "kept 2"]
    assert [m.id for m in store.take_pending("s")] == ["o2", "o3"]
    assert store.take_pending("s") == []
    assert not any(m.pending for m in store.history("s"))
    assert history[0].to_frame() == {"id": "v1", "from": "visitor", "text": "question", "ts": 1}


def test_the_queue_record_round_trips() -> None:
    record = WidgetRecord(
        project="shop",
        session_id="abcdefgh12",
        client_message_id="m-1",
        text="Hello",
        ts=1_700_000_000_123,
        email="a@example.org",
        page=PageInfo(url="https://shop.example/", language="de", user_agent="UA"),
    )
    body = json.loads(json.dumps(record.to_body()))
    assert WidgetRecord.from_body(body) == record
    assert record.group_id == group_id("abcdefgh12") == "widget:abcdefgh12"
    assert session_of_group(record.group_id) == "abcdefgh12"
    assert session_of_group("-100123:45") is None
    assert record.deduplication_id == "widget:abcdefgh12:m-1"
    assert WidgetRecord.from_body({"update_id": 1, "message": {}}) is None
    assert WidgetRecord.from_body({"widget_message": {"project": "shop"}}) is None
