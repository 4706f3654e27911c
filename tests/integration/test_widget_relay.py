"""Widget records through the real consumer (moto + the Bot API emulator): a visitor's message
on the updates queue becomes a topic with its card in the emulator; an operator's answer is
posted to the session's connection through API Gateway's management API (moto's), or kept
when none is open; a record delivered again relays once."""

from __future__ import annotations

import json
import time
from typing import Any

import pytest
from moto.apigatewaymanagementapi.models import apigatewaymanagementapi_backends
from topicdesk.adapters.dynamodb.widget import DynamoWidgetConversations
from topicdesk.contract import Env
from topicdesk.domain.relay.visitors import anon_name
from topicdesk.domain.widget import PageInfo, WidgetMessage, WidgetRecord

from tests.support.aws_world import REGION
from tests.support.pipeline import Pipeline

CONNECTIONS_URL = "https://abc123.execute-api.us-east-1.amazonaws.com/test"
SESSION = "sess-integration-0001"
CHROME = (
    "Mozilla/5.0 (X11; Linux x86_64) AppleWebKit/537.36 (KHTML, like Gecko) "
    "Chrome/120.0.0.0 Safari/537.36"
)


@pytest.fixture
def widget(pipeline: Pipeline, monkeypatch: pytest.MonkeyPatch) -> DynamoWidgetConversations:
    monkeypatch.setenv(Env.WIDGET_CONNECTIONS_URL, CONNECTIONS_URL)
    table = pipeline.aws.dynamodb.Table(pipeline.aws.env[Env.DATA_TABLE])
    store = DynamoWidgetConversations(table)
    store.start_session(SESSION, "shop", time.time())
    return store


def enqueue(pipeline: Pipeline, record: WidgetRecord, dedup: str | None = None) -> None:
    """What the edge does with an accepted ``send``."""
    pipeline.aws.sqs.send_message(
        QueueUrl=pipeline.aws.updates_url,
        MessageBody=json.dumps(record.to_body()),
        MessageGroupId=record.group_id,
        MessageDeduplicationId=dedup or record.deduplication_id,
    )


def visitor_record(client_id: str, text: str, **kw: Any) -> WidgetRecord:
    return WidgetRecord(
        project="shop",
        session_id=SESSION,
        client_message_id=client_id,
        text=text,
        ts=1_700_000_000_000,
        page=PageInfo(url="https://shop.example/faq", language="fr-FR", user_agent=CHROME),
        **kw,
    )


def posted(connection_id: str) -> list[dict[str, Any]]:
    """The frames moto's management API received for a connection."""
    backend = apigatewaymanagementapi_backends["123456789012"][REGION]
    data = backend.connections[connection_id].data.decode()
    decoder, frames, index = json.JSONDecoder(), [], 0
    while index < len(data):
        frame, index = decoder.raw_decode(data, index)
        frames.append(frame)
    return frames


def test_a_visitor_message_opens_a_topic_with_its_card(
    pipeline: Pipeline, widget: DynamoWidgetConversations
) -> None:
    enqueue(pipeline, visitor_record("m1", "Bonjour, une question", email="lea@example.com"))
    enqueue(pipeline, visitor_record("m2", "Vous êtes là ?"))
    pipeline.process()
    thread = pipeline.topic_of("lea@example.com")
    card, *messages = pipeline.topic_texts(thread)
    assert card.splitlines() == [
        "🌐 lea@example.com",
        "channel: web widget",
        "e-mail: lea@example.com",
        "page: https://shop.example/faq",
        "browser: Chrome 120 on Linux",
        "language: fr-FR",
    ]
    assert messages == ["Bonjour, une question", "Vous êtes là ?"]


def test_an_answer_is_posted_to_the_open_connection_or_kept(
    pipeline: Pipeline, widget: DynamoWidgetConversations
) -> None:
    enqueue(pipeline, visitor_record("m1", "Hello"))
    pipeline.process()
    thread = pipeline.topic_of(anon_name(SESSION))
    # Nobody on the page: the answer is kept, and the operators are told.
    away = pipeline.client.send_as_operator(
        pipeline.operator_chat_id, thread, pipeline.operator_id, "Answer while away"
    )
    pipeline.run()
    assert "is not on the page now" in pipeline.topic_texts(thread)[-1]
    assert [m.text for m in widget.take_pending(SESSION)] == ["Answer while away"]
    # The visitor is back on the page: the next answer is pushed, with a reaction.
    widget.open_connection("conn-tab-1", "shop", time.time())
    widget.bind("conn-tab-1", SESSION, time.time())
    live = pipeline.client.send_as_operator(
        pipeline.operator_chat_id, thread, pipeline.operator_id, "Live answer"
    )
    pipeline.run()
    frames = posted("conn-tab-1")
    assert [(f["type"], f["from"], f["text"]) for f in frames] == [
        ("message", "operator", "Live answer")
    ]
    reacted = [int(c["params"]["message_id"]) for c in pipeline.client.calls("setMessageReaction")]
    assert reacted == [live["message_id"]] and away["message_id"] not in reacted
    assert widget.take_pending(SESSION) == []


def test_a_record_delivered_again_past_the_dedup_window_relays_once(
    pipeline: Pipeline, widget: DynamoWidgetConversations
) -> None:
    record = visitor_record("m1", "Only once")
    enqueue(pipeline, record)
    pipeline.process()
    # The same record again under another deduplication id (as after SQS's five minutes).
    enqueue(pipeline, record, dedup="again-after-the-window")
    pipeline.process()
    thread = pipeline.topic_of(anon_name(SESSION))
    assert pipeline.topic_texts(thread)[1:] == ["Only once"]
    assert len(pipeline.client.calls("createForumTopic")) == 1


def test_forget_erases_a_visitors_widget_conversation(
    pipeline: Pipeline, widget: DynamoWidgetConversations
) -> None:
    from topicdesk.adapters.dynamodb.erasure import DynamoPersonData
    from topicdesk.domain.relay.visitors import visitor_user_id

    enqueue(pipeline, visitor_record("m1", "Please forget me"))
    pipeline.process()
    widget.accept_visitor(SESSION, WidgetMessage("m1", "visitor", "Please forget me", 1), 1.0)
    dynamodb = pipeline.aws.dynamodb
    erasure = DynamoPersonData(
        dynamodb.Table(pipeline.aws.env[Env.DATA_TABLE]),
        dynamodb.Table(pipeline.aws.env[Env.LIMITS_TABLE]),
    )
    counts = erasure.erase_belongings(visitor_user_id(SESSION))
    assert counts["widget_items"] >= 2  # the session item and the message at least
    assert widget.history(SESSION) == [] and widget.session(SESSION, time.time()) is None
    assert widget.visitor_session(visitor_user_id(SESSION)) is None
