"""The away message for a web widget visitor end to end (issue 15; a visitor's record on the
updates queue on moto -> the consumer -> the emulator and API Gateway's management API): out
of hours, the visitor on the page gets it pushed once per conversation; the operators still
get every message in the topic."""

from __future__ import annotations

import time

import pytest
from topicdesk.adapters.dynamodb.widget import DynamoWidgetConversations
from topicdesk.contract import Env
from topicdesk.domain.relay.visitors import anon_name
from topicdesk.handlers import consumer as consumer_handler

from tests.integration.test_inbox_nudges import AWAY, closed_today
from tests.integration.test_widget_relay import SESSION, enqueue, posted, visitor_record
from tests.support.pipeline import Pipeline

pytest_plugins = ["tests.integration.test_widget_relay"]  # its ``widget`` fixture


def test_a_visitor_out_of_hours_is_told_once_per_conversation(
    pipeline: Pipeline, widget: DynamoWidgetConversations, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv(Env.INBOX, "true")
    monkeypatch.setenv(Env.BUSINESS_HOURS, closed_today())
    monkeypatch.setenv(Env.AWAY_MESSAGE, AWAY)
    consumer_handler.runtime.cache_clear()
    widget.open_connection("conn-away-1", "shop", time.time())
    widget.bind("conn-away-1", SESSION, time.time())
    enqueue(pipeline, visitor_record("m1", "Hello?"))
    enqueue(pipeline, visitor_record("m2", "Anyone there?"))
    pipeline.process()
    thread = pipeline.topic_of(anon_name(SESSION))
    assert pipeline.topic_texts(thread)[-2:] == ["Hello?", "Anyone there?"]
    assert [f["text"] for f in posted("conn-away-1")] == [AWAY]
    # /close ends the conversation; the visitor's next message begins one: told again.
    pipeline.client.send_as_operator(
        pipeline.operator_chat_id, thread, pipeline.operator_id, "/close"
    )
    pipeline.run()
    enqueue(pipeline, visitor_record("m3", "One more thing"))
    pipeline.process()
    assert [f["text"] for f in posted("conn-away-1")].count(AWAY) == 2
    # Nothing went to a Telegram chat of theirs (they have none).
    sent_to = {int(c["params"]["chat_id"]) for c in pipeline.client.calls("sendMessage")}
    assert sent_to == {pipeline.operator_chat_id}
