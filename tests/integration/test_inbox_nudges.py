"""Nudges and the away message end to end (issue 15; emulator -> webhook -> SQS on moto ->
consumer, and the scheduled function's handler): a wait past the SLA is nudged once in its
topic, naming its owner; a wait answered before its nudge job runs gets none; a person who
writes outside business hours is told once per conversation."""

from __future__ import annotations

import json
import time
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta

import pytest
from topicdesk.adapters.aws import SqsUpdateQueue
from topicdesk.adapters.dynamodb.inbox import DynamoInboxStore
from topicdesk.adapters.inbox_schedule import SqsInboxSchedule
from topicdesk.adapters.powertools import SystemClock
from topicdesk.contract import Env
from topicdesk.domain.inbox.nudges import NudgeJob, Sla, Sweep
from topicdesk.handlers import consumer as consumer_handler
from topicdesk.handlers import inbox_schedule

from devkit.lambda_runtime import FakeLambdaContext
from tests.support.pipeline import Pipeline

AWAY = "We're closed right now; we'll answer tomorrow."


@pytest.fixture
def shift(pipeline: Pipeline, monkeypatch: pytest.MonkeyPatch) -> Iterator[list[float]]:
    """The stage keeps the inbox with a 15-minute SLA; the consumer's and the schedule's
    clock runs ``shift[0]`` seconds ahead (the nudges' minutes pass without waiting)."""
    monkeypatch.setenv(Env.INBOX, "true")
    monkeypatch.setenv(Env.SLA_MINUTES, "15")
    consumer_handler.runtime.cache_clear()
    inbox_schedule.runtime.cache_clear()
    ahead = [0.0]
    monkeypatch.setattr(SystemClock, "now", lambda _self: time.time() + ahead[0])
    yield ahead
    inbox_schedule.runtime.cache_clear()


def sweep() -> int:
    """The every-minute rule's invocation of the scheduled function."""
    answer = inbox_schedule.handler({"job": "sweep"}, FakeLambdaContext("inbox-schedule"))
    return int(answer["queued"])


def nudges(pipeline: Pipeline, thread: int) -> list[dict[str, object]]:
    return [
        m
        for m in pipeline.client.transcript(pipeline.operator_chat_id, thread)
        if str(m.get("text", "")).startswith("⏰")
    ]


def writes(pipeline: Pipeline, name: str, text: str) -> int:
    user = int(pipeline.client.create_user(name, username=name.lower())["user_id"])
    pipeline.client.send_as_user(user, text)
    pipeline.run()
    return user


def test_a_wait_past_the_sla_is_nudged_once_naming_its_owner(
    pipeline: Pipeline, shift: list[float]
) -> None:
    writes(pipeline, "Anna", "my order is late")
    thread = pipeline.topic_of("Anna")
    pipeline.client.send_as_operator(
        pipeline.operator_chat_id, thread, pipeline.operator_id, "/claim"
    )
    pipeline.run()
    shift[0] += 14 * 60
    assert sweep() == 0
    shift[0] += 61
    assert sweep() == 1
    pipeline.run()
    [nudge] = nudges(pipeline, thread)
    assert "15 min" in str(nudge["text"]) and "Olga" in str(nudge["text"])
    mentions = [e for e in nudge.get("entities", []) if e["type"] == "text_mention"]  # type: ignore[attr-defined]
    assert [m["user"]["id"] for m in mentions] == [pipeline.operator_id]
    # Every later sweep finds it nudged: nothing more, however long it waits.
    for _ in range(3):
        shift[0] += 600
        assert sweep() == 0
        pipeline.run()
    assert len(nudges(pipeline, thread)) == 1


def test_an_answer_before_the_nudge_job_runs_cancels_it(
    pipeline: Pipeline, shift: list[float]
) -> None:
    writes(pipeline, "Boris", "hello?")
    thread = pipeline.topic_of("Boris")
    shift[0] += 16 * 60
    aws = pipeline.aws
    store = DynamoInboxStore(aws.dynamodb.Table(aws.env[Env.DATA_TABLE]))
    due: list[NudgeJob] = []

    class Held:
        def enqueue_nudge(self, job: NudgeJob) -> None:
            due.append(job)

    Sweep(store, Held(), Sla(15), SystemClock(), [pipeline.operator_chat_id]).run()
    assert len(due) == 1  # due now, and held back until the answer is in
    pipeline.client.send_as_operator(pipeline.operator_chat_id, thread, pipeline.operator_id, "Hi!")
    pipeline.run()
    SqsInboxSchedule(SqsUpdateQueue(aws.sqs, aws.updates_url)).enqueue_nudge(due[0])
    pipeline.run()
    assert nudges(pipeline, thread) == []
    assert sweep() == 0
    # The person writes again: a new wait, nudged in its turn.
    pipeline.client.send_as_user(due[0].user_id, "still there?")
    pipeline.run()
    shift[0] += 15 * 60 + 1
    assert sweep() == 1
    pipeline.run()
    assert len(nudges(pipeline, thread)) == 1


def closed_today() -> str:
    """Business hours closed from yesterday to tomorrow (holidays), open otherwise."""
    today = datetime.now(UTC).date()
    days = [str(today + timedelta(days=d)) for d in (-1, 0, 1)]
    weekly = {day: ["09:00-17:00"] for day in ("mon", "tue", "wed", "thu", "fri", "sat", "sun")}
    return json.dumps({"timeZone": "UTC", "weekly": weekly, "holidays": days})


def test_the_away_message_once_per_conversation(
    pipeline: Pipeline, shift: list[float], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv(Env.BUSINESS_HOURS, closed_today())
    monkeypatch.setenv(Env.AWAY_MESSAGE, AWAY)
    consumer_handler.runtime.cache_clear()
    anna = writes(pipeline, "Anna", "hello")
    pipeline.client.send_as_user(anna, "anyone?")
    pipeline.run()
    assert pipeline.private_texts(anna).count(AWAY) == 1
    thread = pipeline.topic_of("Anna")
    assert pipeline.topic_texts(thread)[-2:] == ["hello", "anyone?"]  # relayed all the same
    # /close ends the conversation; her next message begins one: told again, once.
    pipeline.client.send_as_operator(
        pipeline.operator_chat_id, thread, pipeline.operator_id, "/close"
    )
    pipeline.run()
    pipeline.client.send_as_user(anna, "one more thing")
    pipeline.run()
    assert pipeline.private_texts(anna).count(AWAY) == 2
    # Nudges wait for opening time: nothing is due while closed.
    shift[0] += 3600
    assert sweep() == 0
