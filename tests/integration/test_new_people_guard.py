"""The new-people guard end to end (emulator -> webhook -> SQS on moto -> consumer): at most N
new topics per group an hour, the rest held in order and relayed later, one note; one account's
floods of edits, /start and block/unblock stay within the group's budget."""

from __future__ import annotations

import time
from typing import Any

import pytest
from moto.core import DEFAULT_ACCOUNT_ID
from moto.sqs.models import sqs_backends
from topicdesk.adapters.dynamodb.challenges import DynamoChallengeStore
from topicdesk.adapters.powertools import SystemClock
from topicdesk.adapters.waiting_line import DynamoWaitingLine
from topicdesk.contract import Env
from topicdesk.handlers import consumer as consumer_handler

from tests.support.pipeline import Pipeline


def person(pipeline: Pipeline, name: str) -> int:
    return int(pipeline.client.create_user(name, username=name.lower())["user_id"])


class Clock:
    """The consumer's clock, moved forward by the test (the held records' places are in the
    future); the queue's held records are made visible as SQS would by then."""

    def __init__(self, pipeline: Pipeline, monkeypatch: pytest.MonkeyPatch) -> None:
        self.offset = 0.0
        self._pipeline = pipeline
        monkeypatch.setattr(SystemClock, "now", lambda _self: time.time() + self.offset)

    def advance(self, seconds: float) -> None:
        self.offset += seconds
        name = self._pipeline.aws.updates_url.rsplit("/", 1)[-1]
        for message in sqs_backends[DEFAULT_ACCOUNT_ID]["us-east-1"].queues[name]._messages:
            message.visible_at = 0


def general_texts(pipeline: Pipeline) -> list[str]:
    return [
        m.get("text", "")
        for m in pipeline.client.transcript(pipeline.operator_chat_id)
        if not m.get("is_topic_message")
    ]


def cap(pipeline: Pipeline, monkeypatch: pytest.MonkeyPatch, per_hour: int) -> None:
    monkeypatch.setenv(Env.LIMIT_NEW_TOPICS_PER_HOUR, str(per_hour))
    consumer_handler.runtime.cache_clear()


def test_n_plus_k_new_people_in_an_hour_n_topics_k_held_and_relayed_in_order(
    pipeline: Pipeline, monkeypatch: pytest.MonkeyPatch
) -> None:
    cap(pipeline, monkeypatch, 4)  # 2 at once, then one every 20 minutes
    clock = Clock(pipeline, monkeypatch)
    names = [f"New{i}" for i in range(7)]
    people = {name: person(pipeline, name) for name in names}
    for name, user in people.items():
        pipeline.client.send_as_user(user, f"{name} first")
        pipeline.client.send_as_user(user, f"{name} second")
    pipeline.run()
    assert sorted(t["name"].split()[0] for t in pipeline.topics()) == ["New0", "New1"]
    # One note in General for the whole burst, however many wait.
    notes = [t for t in general_texts(pipeline) if "waiting for a topic" in t]
    assert len(notes) == 1
    for name in names[2:]:  # each waiting person is told once; nothing of theirs relayed yet
        texts = pipeline.private_texts(people[name])
        assert sum("reach our team in order" in t for t in texts) == 1

    created: list[str] = []
    for _ in range(5):  # places at 20, 40, 60, 80 and 100 minutes
        clock.advance(20 * 60)
        pipeline.run()
        now = sorted(t["name"].split()[0] for t in pipeline.topics())
        created += [name for name in now if name not in created and name not in names[:2]]
        if clock.offset < 3600:  # within the first hour: never more than the cap
            assert len(now) <= 4
    assert created == names[2:]  # in the order they wrote
    for name in names:  # nothing lost, nothing reordered
        assert pipeline.topic_texts(pipeline.topic_of(name))[1:] == [
            f"{name} first",
            f"{name} second",
        ]
    assert len([t for t in general_texts(pipeline) if "waiting for a topic" in t]) == 1
    assert pipeline.aws.queue_count(pipeline.aws.updates_url) == 0


def group_sends(pipeline: Pipeline) -> list[dict[str, Any]]:
    """Every call of the bot that wrote into the operators' group."""
    methods = ("sendMessage", "copyMessage", "copyMessages", "editMessageText", "createForumTopic")
    return [
        call
        for method in methods
        for call in pipeline.client.calls(method)
        if int(call["params"].get("chat_id", 0)) == pipeline.operator_chat_id
    ]


def test_one_accounts_edit_start_and_block_floods_stay_within_its_pace(
    pipeline: Pipeline, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv(Env.LIMIT_PERSON_BURST, "3")
    monkeypatch.setenv(Env.LIMIT_PERSON_INTERVAL_SECONDS, "600")
    consumer_handler.runtime.cache_clear()
    mallory = person(pipeline, "Mallory")
    first = pipeline.client.send_as_user(mallory, "hello")
    pipeline.run()
    thread = pipeline.topic_of("Mallory")
    before = len(group_sends(pipeline))
    for i in range(20):
        pipeline.client.edit_as_user(mallory, first["message_id"], f"hello {i}")
        pipeline.client.send_as_user(mallory, "/start")
    for _ in range(10):
        pipeline.client.block_bot(mallory)
        pipeline.client.unblock_bot(mallory)
    pipeline.run()
    # The pace's burst (3, one already spent by "hello") is all the flood got into the group:
    # the rest is held in order behind it (no /start ever writes into the group).
    assert len(group_sends(pipeline)) - before <= 2
    greetings = [t for t in pipeline.private_texts(mallory) if "support team" in t]
    assert len(greetings) <= 1
    assert len(pipeline.topics()) == 1 and pipeline.topic_of("Mallory") == thread


def question_of(pipeline: Pipeline, user: int) -> dict[str, Any]:
    asked = [m for m in pipeline.client.transcript(user) if m.get("reply_markup")]
    assert len(asked) == 1, asked
    return asked[0]


def test_with_the_question_no_topic_until_the_right_answer_then_everything_in_order(
    pipeline: Pipeline, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv(Env.NEW_PERSON_CHALLENGE, "true")
    consumer_handler.runtime.cache_clear()
    anna = person(pipeline, "Anna")
    pipeline.client.send_as_user(anna, "/start")
    pipeline.client.send_as_user(anna, "my order")
    pipeline.client.send_as_user(anna, "is late")
    pipeline.run()
    assert pipeline.topics() == []
    asked = question_of(pipeline, anna)
    wanted = asked["text"].rsplit("tap the ", 1)[1].rstrip(".")
    buttons = [b for row in asked["reply_markup"]["inline_keyboard"] for b in row]
    names = {"apple": "🍎", "car": "🚗", "cat": "🐱", "house": "🏠", "tree": "🌳", "fish": "🐟"}
    right = next(b for b in buttons if b["text"] == names[wanted])
    wrong = next(b for b in buttons if b is not right)

    refused = pipeline.client.press_button(anna, asked["message_id"], wrong["callback_data"])
    pipeline.run()
    assert pipeline.topics() == []  # a wrong answer opens nothing
    answer = pipeline.client.callback_query(refused["id"])
    assert answer["answered"] and answer["answer"]["text"].startswith("Not quite")

    passed = pipeline.client.press_button(anna, asked["message_id"], right["callback_data"])
    pipeline.client.send_as_user(anna, "hello?")  # written after the answer: comes after
    pipeline.run()
    assert pipeline.client.callback_query(passed["id"])["answered"]
    thread = pipeline.topic_of("Anna")
    assert pipeline.topic_texts(thread)[1:] == ["my order", "is late", "hello?"]
    assert len([m for m in pipeline.client.transcript(anna) if m.get("reply_markup")]) == 1


def test_the_waiting_line_and_the_questions_on_dynamodb(pipeline: Pipeline) -> None:
    line = DynamoWaitingLine(
        pipeline.aws.dynamodb.Table(pipeline.aws.env[Env.LIMITS_TABLE]),
        pipeline.aws.dynamodb.Table(pipeline.aws.env[Env.DATA_TABLE]),
    )
    chat = pipeline.operator_chat_id
    assert line.join(chat, until=1_000.0, now=100.0) is True  # a burst begins
    assert line.note_to_edit(chat, now=200.0, every=60.0) is None  # no note yet
    line.remember_note(chat, 77, now=100.0)
    assert line.join(chat, until=900.0, now=150.0) is False  # on: lasts until 1000 still
    assert line.note_to_edit(chat, now=150.0, every=60.0) is None  # written 50 s ago
    assert line.note_to_edit(chat, now=160.0, every=60.0) == 77  # claimed: this one edits
    assert line.note_to_edit(chat, now=161.0, every=60.0) is None  # and no one else
    assert line.join(chat, until=2_000.0, now=999.0) is False  # the burst was still on
    assert line.join(chat, until=3_000.0, now=2_001.0) is True  # over: a new one
    assert line.note_to_edit(chat, now=4_000.0, every=60.0) is None  # its note not yet sent

    store = DynamoChallengeStore(pipeline.aws.dynamodb.Table(pipeline.aws.env[Env.DATA_TABLE]))
    assert store.get(5) is None
    for message_id in (3, 4, 3, 5):  # a redelivered record holds its message once
        store.hold(5, message_id)
    store.ask(5, "challenge:🍎", now=10.0)
    state = store.get(5)
    assert state is not None and (state.held, state.answer, state.passed) == (
        (3, 4, 5),
        "challenge:🍎",
        False,
    )
    store.passed(5)
    store.release(5)
    state = store.get(5)
    assert state is not None and state.passed and state.held == ()
