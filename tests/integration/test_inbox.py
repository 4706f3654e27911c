"""The inbox end to end (issue 15; emulator -> webhook -> SQS on moto -> consumer): the state
on each topic's name, "Take it" pressed by two operators at once (one owner), the Queue topic's
pinned overview edited in place (and posted again when deleted), within the coalescing rules."""

from __future__ import annotations

import time
from typing import Any

import pytest
from moto.core import DEFAULT_ACCOUNT_ID
from moto.sqs.models import sqs_backends
from topicdesk.adapters.aws import SqsUpdateQueue
from topicdesk.adapters.dynamodb.inbox import DynamoInboxStore
from topicdesk.adapters.inbox_jobs import SqsInboxJobs
from topicdesk.adapters.powertools import SystemClock
from topicdesk.contract import Env
from topicdesk.domain.inbox import Conversation, Event, Inbox, Owner, State
from topicdesk.domain.model import Person, Session
from topicdesk.handlers import consumer as consumer_handler

from tests.support.pipeline import Pipeline


@pytest.fixture
def inbox(pipeline: Pipeline, monkeypatch: pytest.MonkeyPatch) -> list[float]:
    """The stage keeps the inbox; returns the consumer clock's shift (see ``later``)."""
    monkeypatch.setenv(Env.INBOX, "true")
    consumer_handler.runtime.cache_clear()
    shift = [0.0]
    monkeypatch.setattr(SystemClock, "now", lambda _self: time.time() + shift[0])
    return shift


def later(pipeline: Pipeline, shift: list[float], seconds: float) -> None:
    """``seconds`` pass for the consumer; the deferred refresh job is due again (SQS would
    have made it visible by then), and the queue is drained."""
    shift[0] += seconds
    queue = pipeline.aws.updates_url.rsplit("/", 1)[-1]
    for message in sqs_backends[DEFAULT_ACCOUNT_ID]["us-east-1"].queues[queue]._messages:
        message.visible_at = 0
    pipeline.run()


def writes(pipeline: Pipeline, name: str, text: str) -> int:
    user = int(pipeline.client.create_user(name, username=name.lower())["user_id"])
    pipeline.client.send_as_user(user, text)
    pipeline.run()
    return user


def topic_name(pipeline: Pipeline, thread: int) -> str:
    [topic] = [t for t in pipeline.topics() if t["message_thread_id"] == thread]
    return str(topic["name"])


def overviews(pipeline: Pipeline) -> list[dict[str, Any]]:
    """The bot's overview messages in the Queue topic (service messages aside)."""
    queue = pipeline.topic_of("Queue")
    return [
        m
        for m in pipeline.client.transcript(pipeline.operator_chat_id, queue)
        if m.get("text", "").startswith("📋")
    ]


def pinned(pipeline: Pipeline) -> list[int]:
    queue = pipeline.topic_of("Queue")
    return [
        m["pinned_message"]["message_id"]
        for m in pipeline.client.transcript(pipeline.operator_chat_id, queue)
        if "pinned_message" in m
    ]


def test_the_topic_shows_the_state_and_the_overview_is_edited_not_reposted(
    pipeline: Pipeline, inbox: list[float]
) -> None:
    writes(pipeline, "Anna", "my order is late")
    thread = pipeline.topic_of("Anna")
    [first] = overviews(pipeline)
    assert "Waiting on us: 1" in first["text"] and "Anna" in first["text"]
    assert f"https://t.me/c/{str(pipeline.operator_chat_id)[4:]}/{thread}" in first["text"]
    assert pinned(pipeline) == [first["message_id"]]
    assert topic_name(pipeline, thread) == "Anna (@anna)"  # not stable for 10 s yet
    later(pipeline, inbox, 15)
    assert topic_name(pipeline, thread) == "🆕 Anna (@anna)"

    pipeline.client.send_as_operator(
        pipeline.operator_chat_id, thread, pipeline.operator_id, "On it"
    )
    pipeline.run()
    later(pipeline, inbox, 130)  # the topic's gap (2 min) and the overview's minute
    assert topic_name(pipeline, thread) == "🟢 Anna (@anna)"
    [edited] = overviews(pipeline)  # the same message, edited in place
    assert edited["message_id"] == first["message_id"]
    assert "Waiting on us: 0" in edited["text"]
    edits = pipeline.client.calls("editMessageText")
    assert [int(c["params"]["message_id"]) for c in edits] == [first["message_id"]]
    assert pinned(pipeline) == [first["message_id"]]  # pinned once
    assert pipeline.aws.queue_count(pipeline.aws.updates_url) == 0  # nothing left to do


def test_two_operators_press_take_it_at_once_one_owner(
    pipeline: Pipeline, inbox: list[float]
) -> None:
    client, group = pipeline.client, pipeline.operator_chat_id
    pete = int(client.create_user("Pete", username="pete")["user_id"])
    client.set_member(group, pete, status="member")
    anna = writes(pipeline, "Anna", "hello")
    thread = pipeline.topic_of("Anna")
    [card] = [m for m in client.transcript(group, thread) if m.get("reply_markup")]
    data = f"take:{anna}"
    olga_press = client.press_button(pipeline.operator_id, card["message_id"], data, chat_id=group)
    pete_press = client.press_button(pete, card["message_id"], data, chat_id=group)
    pipeline.run()  # both presses were queued before either was handled
    answers = {
        press["id"]: client.callback_query(press["id"])["answer"]["text"]
        for press in (olga_press, pete_press)
    }
    assert answers[olga_press["id"]] == "🙋 Olga owns this conversation now."
    assert (
        answers[pete_press["id"]] == "Olga owns this conversation already (/assign to change it)."
    )
    later(pipeline, inbox, 15)
    assert topic_name(pipeline, thread) == "🆕 Anna (@anna) · Olga"
    client.send_as_operator(group, thread, pete, "/info")
    pipeline.run()
    assert any("owner: Olga" in text for text in pipeline.topic_texts(thread))


def test_a_deleted_overview_is_posted_again_and_pinned(
    pipeline: Pipeline, inbox: list[float]
) -> None:
    writes(pipeline, "Anna", "hello")
    [first] = overviews(pipeline)
    pipeline.client.delete_as_operator(
        pipeline.operator_chat_id, pipeline.operator_id, first["message_id"]
    )
    writes(pipeline, "Ben", "hi there")
    later(pipeline, inbox, 61)
    [again] = overviews(pipeline)
    assert again["message_id"] != first["message_id"] and "Waiting on us: 2" in again["text"]
    assert pinned(pipeline)[-1] == again["message_id"]


def test_the_store_s_conditional_write_lets_one_of_two_rivals_win(
    pipeline: Pipeline, inbox: list[float]
) -> None:
    table = pipeline.aws.dynamodb.Table(pipeline.aws.env[Env.DATA_TABLE])
    store = DynamoInboxStore(table)
    record = Conversation(pipeline.operator_chat_id, 7, thread_id=3, name="Anna", state=State.NEW)
    assert store.save(record, 0)
    olga, pete = Owner(1, "Olga"), Owner(2, "Pete")
    assert store.save(record.with_changes(owner=olga), 1)
    assert not store.save(record.with_changes(owner=pete), 1)  # read version 1 as well: lost
    stored = store.get(pipeline.operator_chat_id, 7)
    assert stored is not None and stored.owner == olga and stored.version == 2
    store.mark_shown(pipeline.operator_chat_id, 7, "🆕 Anna · Olga", 5.0)
    assert store.save(stored.with_changes(state=State.WAITING_PERSON), 2)  # keeps the label
    after = store.get(pipeline.operator_chat_id, 7)
    assert after is not None and after.shown == "🆕 Anna · Olga" and after.owner == olga


def test_two_claims_racing_on_dynamodb_one_owner(pipeline: Pipeline, inbox: list[float]) -> None:
    """Pete's claim is written between Olga's read and Olga's write (as two consumers
    would interleave): DynamoDB's condition refuses Olga's, she re-reads and is told."""
    table = pipeline.aws.dynamodb.Table(pipeline.aws.env[Env.DATA_TABLE])
    group = pipeline.operator_chat_id
    anna = Session(Person(7, "Anna"), group, thread_id=3)
    rival: list[Inbox] = []

    class Interleaved(DynamoInboxStore):
        def save(self, record: Conversation, expected_version: int) -> bool:
            if rival and record.owner == Owner(1, "Olga"):
                rival.pop().claim(anna, Owner(2, "Pete"))
            return super().save(record, expected_version)

    clock, jobs = (
        SystemClock(),
        SqsInboxJobs(SqsUpdateQueue(pipeline.aws.sqs, pipeline.aws.updates_url)),
    )
    olga_side = Inbox(Interleaved(table), jobs, clock)
    rival.append(Inbox(DynamoInboxStore(table), jobs, clock))
    olga_side.event(anna, Event.PERSON_WROTE)
    outcome = olga_side.claim(anna, Owner(1, "Olga"))
    assert not outcome.done and outcome.owner == Owner(2, "Pete")
    stored = DynamoInboxStore(table).get(group, 7)
    assert stored is not None and stored.owner == Owner(2, "Pete") and stored.state is State.NEW
