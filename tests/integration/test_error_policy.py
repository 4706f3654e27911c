"""The consumer's error policy and the DLQ, through moto and the emulator."""

from __future__ import annotations

import json
import time
from typing import Any

import pytest
from moto.core import DEFAULT_ACCOUNT_ID
from moto.sqs.models import sqs_backends
from topicdesk.adapters.dynamodb.sessions import session_key
from topicdesk.adapters.limits_items import location
from topicdesk.contract import DATA_TABLE, LIMITS_TABLE, Env
from topicdesk.domain.routing import group_key
from topicdesk.runtime import retries

from tests.support.pipeline import Pipeline, cold_start_consumer


def moto_messages(queue_url: str) -> list[Any]:
    """The queue's messages inside moto, to read and move their visibility deadline."""
    name = queue_url.rsplit("/", 1)[-1]
    return list(sqs_backends[DEFAULT_ACCOUNT_ID]["us-east-1"].queues[name]._messages)


def limits_table(pipeline: Pipeline) -> Any:
    return pipeline.aws.dynamodb.Table(pipeline.aws.env[Env.LIMITS_TABLE])


def limiter_key(name: str) -> dict[str, str]:
    """A limits-table item's key (the limiter's names: group#<chat>, person#<user>)."""
    return {LIMITS_TABLE.partition_key: name}


def assert_held_for(pipeline: Pipeline, queue_url: str, retry_after: float, field: str) -> Any:
    """After the group's 429: the queue's one record is invisible for ``retry_after`` and the
    shared limiter holds the group's key (its ``field``) that long. Returns the record."""
    [message] = moto_messages(queue_url)
    hidden_for = message.visible_at / 1000 - time.time()
    assert retry_after - 2 < hidden_for <= retry_after + 0.5
    item, tat, hold = location(f"group#{pipeline.operator_chat_id}")  # the bot's item
    held = limits_table(pipeline).get_item(Key=limiter_key(item))["Item"]
    value = float(held[tat if field == "tat" else hold])
    assert retry_after - 2 < value - time.time() <= retry_after + 0.5
    return message


def forget_the_group(pipeline: Pipeline) -> None:
    """The shared limiter forgets the group's slots and holds (kept on the bot's item)."""
    item, tat, hold = location(f"group#{pipeline.operator_chat_id}")
    limits_table(pipeline).update_item(
        Key=limiter_key(item),
        UpdateExpression="REMOVE #t, #h",
        ExpressionAttributeNames={"#t": tat, "#h": hold},
    )


def let_the_429_pass(pipeline: Pipeline, message: Any) -> None:
    """Time passes for the emulator's window, the record's invisibility and the limiter."""
    pipeline.client.set_limits(enabled=False)
    message.visible_at = 0
    forget_the_group(pipeline)


def person(pipeline: Pipeline, name: str) -> int:
    return int(pipeline.client.create_user(name, username=name.lower())["user_id"])


def has_written(pipeline: Pipeline, name: str, text: str = "hi") -> int:
    """``name`` writes ``text`` and it is relayed: their topic exists. Returns the person."""
    someone = person(pipeline, name)
    pipeline.client.send_as_user(someone, text)
    pipeline.run()
    return someone


def poison_to_the_dlq(pipeline: Pipeline, monkeypatch: pytest.MonkeyPatch) -> int:
    """A person whose second message Telegram refuses for good: every attempt fails (retried
    at once here) until the consumer moves it to the DLQ. Returns the person."""
    real_delay = retries.retry_delay
    monkeypatch.setattr(retries, "retry_delay", lambda error, count, base, elapsed=0.0: 0)
    anna = has_written(pipeline, "Anna")
    # Telegram refuses this one for good: every attempt fails until the DLQ takes it.
    pipeline.client.set_fault(
        "copyMessage", status=400, description="Bad Request: CHAT_WRITE_FORBIDDEN", times=100
    )
    pipeline.client.send_as_user(anna, "doomed")
    pipeline.deliver()
    for _ in range(20):
        pipeline.process()
        if pipeline.aws.queue_count(pipeline.aws.dlq_url):
            break
    pipeline.client.clear_faults()
    monkeypatch.setattr(retries, "retry_delay", real_delay)
    return anna


def test_duplicate_after_the_sqs_dedup_window_is_processed_zero_more_times(
    pipeline: Pipeline,
) -> None:
    anna = person(pipeline, "Anna")
    pipeline.client.send_as_user(anna, "only once please")
    [update] = pipeline.deliver()
    pipeline.process()
    # Telegram retries the same update hours later: SQS's 5-minute dedup no longer applies.
    pipeline.aws.sqs.send_message(
        QueueUrl=pipeline.aws.updates_url,
        MessageBody=json.dumps(update),
        MessageGroupId=str(anna),
        MessageDeduplicationId=f"{update['update_id']}-late",
    )
    pipeline.process()
    thread = pipeline.topic_of("Anna")
    assert pipeline.topic_texts(thread).count("only once please") == 1
    assert len(pipeline.client.calls("createForumTopic")) == 1


def queue_again_later(pipeline: Pipeline, update: dict[str, Any]) -> None:
    """The same update queued again hours later: SQS's 5-minute dedup no longer applies."""
    pipeline.aws.sqs.send_message(
        QueueUrl=pipeline.aws.updates_url,
        MessageBody=json.dumps(update),
        MessageGroupId=group_key(update),
        MessageDeduplicationId=f"{update['update_id']}-late",
    )


def test_updates_delivered_again_past_the_dedup_window_are_dropped_whole(
    pipeline: Pipeline,
) -> None:
    """Each update's step record, marked finished with its last write, is its idempotency
    record: a copy queued hours later sends nothing and counts nothing again."""
    anna = person(pipeline, "Anna")
    pipeline.client.send_as_user(anna, "where is my order?")
    [question] = pipeline.deliver()
    pipeline.process()
    thread = pipeline.topic_of("Anna")
    pipeline.client.send_as_operator(
        pipeline.operator_chat_id, thread, pipeline.operator_id, "on its way"
    )
    [answer] = pipeline.deliver()
    pipeline.process()
    queue_again_later(pipeline, question)
    queue_again_later(pipeline, answer)
    assert sum(o.succeeded for o in pipeline.process()) == 2
    assert pipeline.topic_texts(thread).count("where is my order?") == 1
    assert pipeline.private_texts(anna).count("on its way") == 1
    table = pipeline.aws.dynamodb.Table(pipeline.aws.env[Env.DATA_TABLE])
    session = table.get_item(Key=session_key(anna))["Item"]
    assert (session["messages_in"], session["messages_out"]) == (1, 1)


def test_a_failing_record_mid_batch_holds_back_only_its_chat(pipeline: Pipeline) -> None:
    anna, ben = person(pipeline, "Anna"), person(pipeline, "Ben")
    pipeline.client.send_as_user(anna, "anna 1")
    pipeline.client.send_as_user(ben, "ben 1")
    pipeline.deliver()
    # A poison record for Anna's chat sits between her messages.
    pipeline.aws.sqs.send_message(
        QueueUrl=pipeline.aws.updates_url,
        MessageBody="{not an update",
        MessageGroupId=str(anna),
        MessageDeduplicationId="poison-1",
    )
    pipeline.client.send_as_user(anna, "anna 2")
    pipeline.client.send_as_user(ben, "ben 2")
    pipeline.deliver()
    outcome = pipeline.updates.poll_once()
    assert outcome.received == 5 and outcome.failed == 2  # the poison and "anna 2"
    assert pipeline.topic_texts(pipeline.topic_of("Ben"))[1:] == ["ben 1", "ben 2"]
    assert pipeline.topic_texts(pipeline.topic_of("Anna"))[1:] == ["anna 1"]


def test_transient_5xx_is_retried_in_process(pipeline: Pipeline) -> None:
    anna = person(pipeline, "Anna")
    pipeline.client.send_as_user(anna, "hello")
    pipeline.client.set_fault("createForumTopic", status=502, times=1)
    pipeline.client.set_fault("copyMessage", status=500, times=1)
    pipeline.run()
    assert pipeline.topic_texts(pipeline.topic_of("Anna"))[1:] == ["hello"]
    assert all(o.failed == 0 for o in pipeline.outcomes)


def test_429_defers_the_record_by_retry_after_and_trips_nothing(pipeline: Pipeline) -> None:
    # 2 messages a minute into the group (creating the topic counts as one, as Telegram may
    # count it): the topic and the card fit, the copy is refused.
    pipeline.client.set_limits(enabled=True, group_per_minute=2)
    anna = person(pipeline, "Anna")
    pipeline.client.send_as_user(anna, "hello")
    pipeline.deliver()
    first = pipeline.updates.poll_once()
    assert first.failed == 1
    [refusal] = [c for c in pipeline.client.calls("copyMessage") if c["status"] == 429]
    retry_after = refusal["parameters"]["retry_after"]
    # Invisible for exactly retry_after (not the queue's 180 s); every instance was told.
    message = assert_held_for(pipeline, pipeline.aws.updates_url, retry_after, "tat")
    assert pipeline.updates.poll_once().received == 0
    let_the_429_pass(pipeline, message)
    assert pipeline.updates.poll_once().succeeded == 1
    assert pipeline.topic_texts(pipeline.topic_of("Anna"))[1:] == ["hello"]
    assert pipeline.client.violations() == []
    # The contact card was not posted twice.
    assert sum(t.startswith("👤") for t in pipeline.topic_texts(pipeline.topic_of("Anna"))) == 1


def test_a_429_on_the_dead_letter_alert_holds_the_group_and_the_alert_comes_later(
    pipeline: Pipeline, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The DLQ processor spends the shared limiter: its 429 holds the group for every
    instance, the record comes back after retry_after (not the DLQ's 3 minutes), and then
    the alert is posted once and the person is not told twice."""
    anna = poison_to_the_dlq(pipeline, monkeypatch)
    # Telegram turns stricter than our limiter believes (1 message a minute, already spent
    # by the person's topic): the ops topic for the alert is refused with 429.
    pipeline.client.set_limits(enabled=True, group_per_minute=1)
    forget_the_group(pipeline)
    first = pipeline.dead_letters.poll_once()
    assert first.failed == 1
    refused = [
        c
        for method in ("sendMessage", "createForumTopic")
        for c in pipeline.client.calls(method)
        if c["status"] == 429
    ]
    assert len(refused) == 1, refused
    [refusal] = refused
    retry_after = refusal["parameters"]["retry_after"]
    message = assert_held_for(pipeline, pipeline.aws.dlq_url, retry_after, "hold_until")
    let_the_429_pass(pipeline, message)
    assert pipeline.dead_letters.poll_once().succeeded == 1
    assert len(pipeline.topic_texts(pipeline.topic_of("alerts"))) == 1
    assert sum("could not be delivered" in t for t in pipeline.private_texts(anna)) == 1
    assert pipeline.client.violations() == []


def test_blocked_person_is_marked_and_operators_told(pipeline: Pipeline) -> None:
    anna = has_written(pipeline, "Anna")
    thread = pipeline.topic_of("Anna")
    pipeline.client.block_bot(anna)
    pipeline.run()  # the my_chat_member update
    assert "blocked the bot" in pipeline.topic_texts(thread)[-1]
    answer = pipeline.client.send_as_operator(
        pipeline.operator_chat_id, thread, pipeline.operator_id, "are you there?"
    )
    pipeline.run()
    note = pipeline.client.transcript(pipeline.operator_chat_id, thread)[-1]
    assert "Not delivered" in note["text"]
    assert note["reply_to_message"]["message_id"] == answer["message_id"]
    assert all(o.failed == 0 for o in pipeline.outcomes)
    pipeline.client.unblock_bot(anna)
    pipeline.run()
    assert "unblocked" in pipeline.topic_texts(thread)[-1]


def test_deleted_topic_is_recreated_and_the_message_delivered(pipeline: Pipeline) -> None:
    anna = has_written(pipeline, "Anna", "first")
    old = pipeline.topic_of("Anna")
    pipeline.client.delete_topic(pipeline.operator_chat_id, old)
    pipeline.client.send_as_user(anna, "second")
    pipeline.run()
    new = pipeline.topic_of("Anna")
    assert new != old
    texts = pipeline.topic_texts(new)
    assert "deleted" in texts[0] and texts[-1] == "second"
    pipeline.client.send_as_operator(pipeline.operator_chat_id, new, pipeline.operator_id, "hi!")
    pipeline.run()
    assert pipeline.private_texts(anna)[-1] == "hi!"


def test_commands_in_a_topic(pipeline: Pipeline) -> None:
    anna = has_written(pipeline, "Anna")
    thread = pipeline.topic_of("Anna")
    op = pipeline.operator_id
    pipeline.client.send_as_operator(pipeline.operator_chat_id, thread, op, "/info")
    pipeline.run()
    assert f"id: {anna}" in pipeline.topic_texts(thread)[-1]
    pipeline.client.send_as_operator(pipeline.operator_chat_id, thread, op, "/close")
    pipeline.run()
    assert "closed" in pipeline.private_texts(anna)[-1]
    assert next(t for t in pipeline.topics() if t["message_thread_id"] == thread)["closed"]
    pipeline.client.send_as_operator(pipeline.operator_chat_id, thread, op, "/ban")
    pipeline.run()
    pipeline.client.send_as_user(anna, "spam")
    pipeline.run()
    assert "spam" not in pipeline.topic_texts(thread)
    pipeline.client.send_as_user(anna, "/start")
    pipeline.run()
    assert pipeline.private_texts(anna)[-1] == "Welcome to support!"


def test_edits_are_mirrored_both_ways(pipeline: Pipeline) -> None:
    anna = person(pipeline, "Anna")
    sent = pipeline.client.send_as_user(anna, "helo")
    pipeline.run()
    thread = pipeline.topic_of("Anna")
    pipeline.client.edit_as_user(anna, sent["message_id"], "hello")
    pipeline.run()
    assert pipeline.topic_texts(thread)[-1] == "hello"
    answer = pipeline.client.send_as_operator(
        pipeline.operator_chat_id, thread, pipeline.operator_id, "answr"
    )
    pipeline.run()
    pipeline.client.edit_as_operator(
        pipeline.operator_chat_id, pipeline.operator_id, answer["message_id"], "answer"
    )
    pipeline.run()
    assert pipeline.private_texts(anna)[-1] == "answer"


def test_uncopyable_message_is_reported(pipeline: Pipeline) -> None:
    anna = has_written(pipeline, "Anna")
    pipeline.client.set_fault(
        "copyMessage", status=400, description="Bad Request: message can't be copied", times=1
    )
    pipeline.client.send_as_user(anna, "odd one")
    pipeline.run()
    assert "cannot be relayed" in pipeline.topic_texts(pipeline.topic_of("Anna"))[-1]


def test_poison_update_ends_archived_with_person_and_on_call_told(
    pipeline: Pipeline, monkeypatch: pytest.MonkeyPatch
) -> None:
    anna = poison_to_the_dlq(pipeline, monkeypatch)
    assert pipeline.aws.queue_count(pipeline.aws.updates_url) == 0
    outcome = pipeline.dead_letters.poll_once()
    assert outcome.succeeded == 1
    assert "could not be delivered" in pipeline.private_texts(anna)[-1]
    alerts = pipeline.topic_texts(pipeline.topic_of("alerts"))
    assert len(alerts) == 1 and "chat_write_forbidden" in alerts[0].lower()
    table = pipeline.aws.dynamodb.Table(pipeline.aws.env[Env.DATA_TABLE])
    items = table.query(
        KeyConditionExpression=f"{DATA_TABLE.partition_key} = :pk",
        ExpressionAttributeValues={":pk": "DEAD"},
    )["Items"]
    # Five genuine failures (MAX_ATTEMPTS), then the consumer moved it to the DLQ itself.
    assert len(items) == 1 and items[0]["receive_count"] == 5


def test_a_flooding_person_is_paced_in_order_without_loss(
    pipeline: Pipeline, monkeypatch: pytest.MonkeyPatch
) -> None:
    pace = {Env.LIMIT_PERSON_BURST: "2", Env.LIMIT_PERSON_INTERVAL_SECONDS: "30"}
    cold_start_consumer(monkeypatch, pace)
    anna = person(pipeline, "Anna")
    for i in range(4):
        pipeline.client.send_as_user(anna, f"m{i}")
    pipeline.deliver()
    outcome = pipeline.updates.poll_once()
    assert (outcome.succeeded, outcome.failed) == (2, 2)
    thread = pipeline.topic_of("Anna")
    assert pipeline.topic_texts(thread)[1:] == ["m0", "m1"]
    assert "steady pace" in pipeline.private_texts(anna)[-1]
    # The pace is kept in the person's session, written with the count: no limiter item.
    data = pipeline.aws.dynamodb.Table(pipeline.aws.env[Env.DATA_TABLE])
    tat = float(data.get_item(Key=session_key(anna))["Item"]["pace_tat"])
    assert time.time() + 30 <= tat <= time.time() + 60  # m0 and m1: two units of 30 s
    assert "Item" not in limits_table(pipeline).get_item(Key=limiter_key(f"person#{anna}"))
    # The held records come back when the person's pace allows (fast-forwarded here).
    for message in moto_messages(pipeline.aws.updates_url):
        message.visible_at = 0
    data.update_item(Key=session_key(anna), UpdateExpression="REMOVE pace_tat")
    assert pipeline.updates.poll_once().succeeded == 2
    assert pipeline.topic_texts(thread)[1:] == ["m0", "m1", "m2", "m3"]
    assert sum("steady pace" in t for t in pipeline.private_texts(anna)) == 1
