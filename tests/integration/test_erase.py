"""A person erased on request, end to end (moto + the emulator): ``/forget`` in their topic
(``ops sessions erase``: test_ops_cli.py). The evidence is a scan of every table afterwards:
nothing keyed by the person (or naming them) remains, their topic is deleted, and nobody else
lost anything."""

from __future__ import annotations

import json
import time
from typing import Any

from topicdesk.adapters.dynamodb import DynamoDeadLetterArchive, DynamoFailureJournal
from topicdesk.adapters.dynamodb.records import DynamoStepLog
from topicdesk.contract import DATA_TABLE, Env
from topicdesk.domain.model import DeadLetter

from tests.support.pipeline import Pipeline

PK, SK = DATA_TABLE.partition_key, DATA_TABLE.sort_key  # the limits table's PK too


def person(pipeline: Pipeline, name: str) -> int:
    return int(pipeline.client.create_user(name, username=name.lower())["user_id"])


def table(pipeline: Pipeline, env: str) -> Any:
    return pipeline.aws.dynamodb.Table(pipeline.aws.env[env])


def scan(pipeline: Pipeline, env: str) -> list[dict[str, Any]]:
    found, kwargs = [], {}
    while True:
        page = table(pipeline, env).scan(ConsistentRead=True, **kwargs)
        found += page["Items"]
        if "LastEvaluatedKey" not in page:
            return found
        kwargs = {"ExclusiveStartKey": page["LastEvaluatedKey"]}


def names(item: dict[str, Any], user_id: int, thread: int | None) -> bool:
    """Keyed by the person, naming them in an attribute or a body, or indexing their topic."""
    keys = f"{item.get(PK)} {item.get(SK, '')}"
    attributes = (item.get("user_id"), item.get("chat_id"), item.get("peer_chat_id"))
    return (
        f"#{user_id}" in keys
        or item.get(SK) == str(user_id)
        or user_id in attributes
        or (
            thread is not None
            and str(item.get(PK)).startswith("TOPIC#")
            and str(item.get(PK)).endswith(f"#{thread}")
        )
        or str(user_id) in str(item.get("body", ""))
    )


def about(items: list[dict[str, Any]], user_id: int, thread: int | None = None) -> list[Any]:
    return [item for item in items if names(item, user_id, thread)]


DEAD_UPDATE = 777001
DEAD_LETTER_RECORDS = (
    f"FAIL#{DEAD_UPDATE}",
    f"STEPS#dead#{DEAD_UPDATE}",
    f"STEPS#update#{DEAD_UPDATE}",
)
"""The dead letter's failure journal and step records (keyed by the update, not the person)."""


def dead_letter(pipeline: Pipeline, user_id: int, update_id: int) -> None:
    """A dead update of the person's, as the DLQ processor leaves it: archived, with its
    failure journal and step records."""
    data = table(pipeline, Env.DATA_TABLE)
    body = json.dumps(
        {
            "update_id": update_id,
            "message": {
                "message_id": 99,
                "date": 0,
                "chat": {"id": user_id, "type": "private", "first_name": "Anna"},
                "from": {"id": user_id, "is_bot": False, "first_name": "Anna"},
                "text": "my address is 1 Main St",
            },
        }
    )
    now = time.time()
    DynamoDeadLetterArchive(data).archive(
        DeadLetter(str(update_id), body, update_id, user_id, "boom", 5, now, now, now)
    )
    DynamoFailureJournal(data).record(update_id, "TransientFailure: boom", now)
    DynamoStepLog(data).save(f"dead#{update_id}", {"person-told": True})
    DynamoStepLog(data).save(f"update#{update_id}", {"deliver": [1]})


def conversation(pipeline: Pipeline) -> tuple[int, int, int]:
    """Anna and Ben write, an operator answers Anna, Anna has a dead letter."""
    anna, ben = person(pipeline, "Anna"), person(pipeline, "Ben")
    pipeline.client.send_as_user(anna, "/start")
    pipeline.client.send_as_user(anna, "Hello, my order is late")
    pipeline.client.send_as_user(ben, "Hi from Ben")
    pipeline.run()
    thread = pipeline.topic_of("Anna")
    pipeline.client.send_as_operator(
        pipeline.operator_chat_id, thread, pipeline.operator_id, "Sorry! It ships tomorrow."
    )
    pipeline.run()
    assert pipeline.private_texts(anna)[-1] == "Sorry! It ships tomorrow."
    dead_letter(pipeline, anna, DEAD_UPDATE)
    # Before: the person is all over both tables.
    data = about(scan(pipeline, Env.DATA_TABLE), anna, thread)
    kinds = {str(item[PK]).split("#")[0] for item in data}
    assert {"PERSON", "PEOPLE", "TOPIC", "MSG", "DEAD"} <= kinds, kinds
    assert set(DEAD_LETTER_RECORDS) <= {str(i[PK]) for i in scan(pipeline, Env.DATA_TABLE)}
    limits = {str(item[PK]) for item in about(scan(pipeline, Env.LIMITS_TABLE), anna)}
    assert {f"greet#{anna}", f"chat#{anna}"} <= limits, limits  # the pace is in the session
    return anna, ben, thread


def assert_erased(pipeline: Pipeline, anna: int, ben: int, thread: int) -> None:
    data = scan(pipeline, Env.DATA_TABLE)
    assert about(data, anna, thread) == []
    assert not set(DEAD_LETTER_RECORDS) & {str(item[PK]) for item in data}
    assert about(scan(pipeline, Env.LIMITS_TABLE), anna) == []
    assert thread not in [t["message_thread_id"] for t in pipeline.topics()]
    assert [c for c in pipeline.client.calls("deleteForumTopic") if c["ok"]]
    # Ben is untouched: his session, topic and messages.
    ben_items = about(scan(pipeline, Env.DATA_TABLE), ben)
    assert {str(i[PK]).split("#")[0] for i in ben_items} >= {"PERSON", "PEOPLE", "MSG"}
    assert pipeline.topic_texts(pipeline.topic_of("Ben"))[-1] == "Hi from Ben"


def test_forget_by_an_admin_erases_the_person_everywhere(pipeline: Pipeline) -> None:
    anna, ben, thread = conversation(pipeline)
    forget = pipeline.client.send_as_operator(
        pipeline.operator_chat_id, thread, pipeline.operator_id, "/forget"
    )
    pipeline.run()
    assert_erased(pipeline, anna, ben, thread)
    [report] = [
        m
        for m in pipeline.client.transcript(pipeline.operator_chat_id)
        if str(m.get("text", "")).startswith(f"🗑 Erased user {anna}")
    ]
    assert report["message_thread_id"] != thread  # the ops topic: Anna's topic is gone
    text = report["text"]
    for part in ("session 1", "roster 1", "topic index 1", "dead letters 1", "limiter keys 2"):
        assert part in text, text
    assert "Topic: deleted" in text and "asked by Olga" in text
    assert not [t for t in pipeline.topics() if "Anna" in t["name"]]  # never recreated
    # A redelivery of the /forget update changes nothing (the topic is no one's now).
    pipeline.post_update({"update_id": 990001, "message": {**forget, "text": "/forget"}})
    pipeline.process()
    assert_erased(pipeline, anna, ben, thread)


def test_forget_is_refused_for_a_plain_member(pipeline: Pipeline) -> None:
    anna = person(pipeline, "Anna")
    pipeline.client.send_as_user(anna, "hello")
    pipeline.run()
    thread = pipeline.topic_of("Anna")
    agent = int(pipeline.client.create_user("Pete")["user_id"])
    pipeline.client.set_member(pipeline.operator_chat_id, agent, status="member")
    pipeline.client.send_as_operator(pipeline.operator_chat_id, thread, agent, "/forget")
    pipeline.run()
    assert "/forget is for the group's admins" in pipeline.topic_texts(thread)[-1]
    assert pipeline.client.calls("deleteForumTopic") == []
    assert about(scan(pipeline, Env.DATA_TABLE), anna, thread)
