"""The relay end to end through the three handlers: emulator transcripts are the evidence."""

from __future__ import annotations

import json
import logging

import pytest

from tests.support.pipeline import Pipeline


def person(pipeline: Pipeline, name: str) -> int:
    return int(pipeline.client.create_user(name, username=name.lower())["user_id"])


def test_first_contact_creates_one_topic_with_card_then_the_message(pipeline: Pipeline) -> None:
    anna = person(pipeline, "Anna")
    pipeline.client.send_as_user(anna, "Hello, my order is late")
    pipeline.run()
    thread = pipeline.topic_of("Anna")
    texts = pipeline.topic_texts(thread)
    assert texts[0].startswith("👤 Anna") and f"id: {anna}" in texts[0]
    assert texts[1:] == ["Hello, my order is late"]
    pipeline.client.send_as_user(anna, "Any news?")
    pipeline.run()
    assert len(pipeline.topics()) == 1
    assert pipeline.topic_texts(thread)[1:] == ["Hello, my order is late", "Any news?"]


def test_order_per_chat_is_kept_and_chats_are_independent(pipeline: Pipeline) -> None:
    anna, ben = person(pipeline, "Anna"), person(pipeline, "Ben")
    for i in range(6):
        pipeline.client.send_as_user(anna, f"a{i}")
        pipeline.client.send_as_user(ben, f"b{i}")
    pipeline.run()
    assert pipeline.topic_texts(pipeline.topic_of("Anna"))[1:] == [f"a{i}" for i in range(6)]
    assert pipeline.topic_texts(pipeline.topic_of("Ben"))[1:] == [f"b{i}" for i in range(6)]
    # Consecutive messages of one person in a batch went out as copyMessages calls.
    assert pipeline.client.calls("copyMessages")


def test_operator_answer_reaches_the_right_person_with_a_receipt(pipeline: Pipeline) -> None:
    anna, ben = person(pipeline, "Anna"), person(pipeline, "Ben")
    pipeline.client.send_as_user(anna, "question from anna")
    pipeline.client.send_as_user(ben, "question from ben")
    pipeline.run()
    thread = pipeline.topic_of("Ben")
    sent = pipeline.client.send_as_operator(
        pipeline.operator_chat_id, thread, pipeline.operator_id, "answer for ben"
    )
    pipeline.run()
    assert pipeline.private_texts(ben)[-1] == "answer for ben"
    assert "answer for ben" not in pipeline.private_texts(anna)
    reactions = pipeline.client.calls("setMessageReaction")
    assert [int(c["params"]["message_id"]) for c in reactions] == [sent["message_id"]]


def test_replies_keep_their_threading_both_ways(pipeline: Pipeline) -> None:
    anna = person(pipeline, "Anna")
    first = pipeline.client.send_as_user(anna, "first question")
    pipeline.run()
    thread = pipeline.topic_of("Anna")
    copy_in_topic = pipeline.find_in_topic(thread, "first question")
    pipeline.client.send_as_operator(
        pipeline.operator_chat_id,
        thread,
        pipeline.operator_id,
        "reply to first",
        reply_to_message_id=copy_in_topic["message_id"],
    )
    pipeline.run()
    answer = pipeline.client.transcript(anna)[-1]
    assert answer["text"] == "reply to first"
    assert answer["reply_to_message"]["message_id"] == first["message_id"]
    pipeline.client.send_as_user(anna, "thanks!", reply_to_message_id=answer["message_id"])
    pipeline.run()
    thanks = pipeline.client.transcript(pipeline.operator_chat_id, thread)[-1]
    assert thanks["text"] == "thanks!"
    operator_message = pipeline.find_in_topic(thread, "reply to first")
    assert thanks["reply_to_message"]["message_id"] == operator_message["message_id"]


def test_no_token_in_logs_even_at_info_level(
    pipeline: Pipeline, caplog: pytest.LogCaptureFixture
) -> None:
    """Lambda's log level can be set to INFO for every logger (advanced logging controls);
    HTTP client libraries then log request URLs, which carry the bot token."""
    caplog.set_level(logging.DEBUG, logger="httpx")
    caplog.set_level(logging.INFO)
    anna = person(pipeline, "Anna")
    pipeline.client.send_as_user(anna, "hello")
    pipeline.run()
    assert pipeline.topic_texts(pipeline.topic_of("Anna"))[1:] == ["hello"]
    # The autouse leak check fails this test if any record carries the token.
    assert pipeline.emulator.token not in caplog.text


def _settle(pipeline: Pipeline, rounds: int = 8) -> None:
    """Deliver and process, letting deferred records (an album's wait) come back."""
    import time

    for _ in range(rounds):
        pipeline.run()
        if pipeline.aws.queue_count(pipeline.aws.updates_url) == 0:
            return
        time.sleep(1.0)
    raise AssertionError("the updates queue did not drain")


def test_albums_stay_albums_both_ways(pipeline: Pipeline) -> None:
    anna = int(pipeline.client.create_user("Anna", username="anna")["user_id"])
    pipeline.client.send_as_user(anna, "hello")
    pipeline.run()
    thread = pipeline.topic_of("Anna")
    # The person's album: three updates, relayed as one copyMessages into the topic.
    pipeline.client.send_album(anna, 3)
    _settle(pipeline)
    copies = [c for c in pipeline.client.calls("copyMessages") if c["status"] == 200]
    assert [len(json.loads(c["params"]["message_ids"])) for c in copies] == [3]
    topic = pipeline.client.transcript(pipeline.operator_chat_id, thread)
    assert len({m.get("media_group_id") for m in topic if "photo" in m}) == 1
    # An operator's album in the topic reaches the person as one album too.
    pipeline.client.send_album(
        pipeline.operator_id, 2, chat_id=pipeline.operator_chat_id, thread_id=thread
    )
    _settle(pipeline)
    copies = [c for c in pipeline.client.calls("copyMessages") if c["status"] == 200]
    assert [len(json.loads(c["params"]["message_ids"])) for c in copies] == [3, 2]
    photos = [m for m in pipeline.client.transcript(anna) if "photo" in m and m["from"]["is_bot"]]
    assert len(photos) == 2 and len({m.get("media_group_id") for m in photos}) == 1
