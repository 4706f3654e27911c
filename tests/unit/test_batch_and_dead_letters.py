"""Batch planning, retry delays and the dead-letter service, with fakes."""

from __future__ import annotations

import asyncio
import json
from typing import Any

import pytest
from topicdesk.domain.batch import BatchPlan, RecordView, answers_first, retry_delay
from topicdesk.domain.dead_letters import (
    REASON_MALFORMED,
    REASON_UNRECORDED,
    DeadLetterService,
    DeadRecord,
    OpsChannel,
)
from topicdesk.domain.errors import RateLimited, RejectedByTelegram, TopicMissing, TransientFailure

from tests.support.fakes import (
    FakeClock,
    FakeMetrics,
    FakeTelegram,
    InMemoryArchive,
    InMemoryJournal,
    InMemorySessions,
    InMemoryStepLog,
)

GROUP = -1001


def private_update(update_id: int, chat: int, text: str = "hi", **extra: object) -> str:
    message = {"message_id": update_id, "chat": {"id": chat, "type": "private"}, "text": text}
    message.update(extra)
    return json.dumps({"update_id": update_id, "message": message})


def test_followers_are_the_next_plain_private_messages_of_the_same_group() -> None:
    records = [
        RecordView("a", "1", private_update(1, 1)),
        RecordView("b", "2", private_update(2, 2)),
        RecordView("c", "1", private_update(3, 1)),
        RecordView("d", "1", private_update(4, 1, text="/start")),
        RecordView("e", "1", private_update(5, 1)),
    ]
    plan = BatchPlan(records)
    assert [u["update_id"] for u in plan.followers("a")] == [3]
    assert plan.followers("b") == []
    assert plan.followers("d") == []  # commands never lead or join a run
    assert plan.followers("e") == []


def group_update(update_id: int, thread: int, album: str | None) -> str:
    message: dict[str, object] = {
        "message_id": update_id,
        "chat": {"id": GROUP, "type": "supergroup"},
        "message_thread_id": thread,
        "is_topic_message": True,
        "photo": [{"file_id": "x"}],
    }
    if album:
        message["media_group_id"] = album
    return json.dumps({"update_id": update_id, "message": message})


def test_an_operators_album_rides_along_as_one_run() -> None:
    group = f"{GROUP}:7"
    records = [
        RecordView("a", group, group_update(1, 7, "A1")),
        RecordView("b", group, group_update(2, 7, "A1")),
        RecordView("c", group, group_update(3, 7, "A2")),
        RecordView("d", group, group_update(4, 7, None)),
    ]
    plan = BatchPlan(records)
    assert [u["update_id"] for u in plan.followers("a")] == [2]
    assert plan.followers("c") == []  # another album
    assert plan.followers("d") == []  # a single photo has nothing to wait for


def test_a_run_ending_in_a_fresh_album_part_waits_for_the_rest() -> None:
    photo = {"photo": [{"file_id": "x"}], "media_group_id": "M"}
    records = [
        RecordView("a", "1", private_update(1, 1, **photo), sent_at=100.0),
        RecordView("b", "1", private_update(2, 1, **photo), sent_at=100.2),
        RecordView("z", "2", private_update(9, 2), sent_at=100.2),
    ]
    plan = BatchPlan(records)
    # The last part came 0.3 s ago and nothing follows it in this batch: more may come.
    assert plan.album_wait("a", now=100.5) == pytest.approx(1.2)
    assert plan.album_wait("b", now=100.5) == pytest.approx(1.2)
    # Old, never waited for: once (the rest may be in the queue, cut off this batch).
    assert plan.album_wait("a", now=110.0) == 1.0
    # Waited for once and settled: it goes as it is (bounded).
    again = BatchPlan(
        [
            RecordView("a", "1", private_update(1, 1, **photo), sent_at=100.0, receive_count=2),
            RecordView("b", "1", private_update(2, 1, **photo), sent_at=100.2, receive_count=2),
        ]
    )
    assert again.album_wait("a", now=102.0) == 0.0
    assert again.album_wait("a", now=101.0) == pytest.approx(0.7)
    assert plan.album_wait("z", now=100.5) == 0.0  # not an album
    # A later record of the same group closes the album: nothing to wait for.
    closed = BatchPlan([*records[:2], RecordView("c", "1", private_update(3, 1), sent_at=100.3)])
    assert closed.album_wait("a", now=100.5) == 0.0


def test_malformed_bodies_are_planned_as_none() -> None:
    plan = BatchPlan([RecordView("a", "1", "{not json"), RecordView("b", "1", "[]")])
    assert plan.updates == {"a": None, "b": None}


def test_retry_delay_is_retry_after_for_429_and_backoff_otherwise() -> None:
    assert retry_delay(RateLimited(3.2), 1) == 4
    assert retry_delay(RateLimited(0.1), 1) == 1
    # Our limiter's own wait: back early (SQS hides in whole seconds), sleep the rest.
    assert retry_delay(RateLimited(3.2, key="group#-5"), 1) == 3
    assert retry_delay(RateLimited(0.4, key="bot"), 1) == 0
    # Counted from the error, not from the end of the batch that went on after it.
    assert retry_delay(RateLimited(5.5, key="group#-5"), 1, elapsed=4.0) == 1
    assert retry_delay(RateLimited(5.5), 1, elapsed=4.0) == 2
    assert retry_delay(RateLimited(5.5), 1, elapsed=9.0) == 1
    # A person's pace books nothing: waited out in full (back early, it is held again).
    assert retry_delay(RateLimited(0.2, key="person#7"), 1) == 1
    assert retry_delay(RateLimited(7.3, key="person#7"), 1) == 8
    assert [retry_delay(TransientFailure("x"), n) for n in (1, 2, 3, 4)] == [5, 10, 20, 40]
    assert retry_delay(None, 50) == 300


def make_service() -> tuple[
    DeadLetterService, InMemoryArchive, InMemoryJournal, FakeTelegram, FakeMetrics
]:
    archive, journal, telegram, metrics = (
        InMemoryArchive(),
        InMemoryJournal(),
        FakeTelegram(),
        FakeMetrics(),
    )
    sessions = InMemorySessions()
    service = DeadLetterService(
        archive=archive,
        journal=journal,
        telegram=telegram,
        ops=OpsChannel(sessions, telegram, GROUP),
        clock=FakeClock(),
        metrics=metrics,
        steps=InMemoryStepLog(),
    )
    return service, archive, journal, telegram, metrics


def test_a_dead_update_is_archived_its_writer_told_and_on_call_alerted_once() -> None:
    service, archive, journal, telegram, metrics = make_service()
    journal.record(77, "RejectedByTelegram: Bad Request: something odd", 1000.0)
    record = DeadRecord(
        "m1", private_update(77, 501), receive_count=8, sent_at=900.0, group_id="501"
    )
    dead = asyncio.run(service.handle(record))
    assert dead.archive_id == "77" and dead.chat_id == 501
    assert dead.reason.startswith("RejectedByTelegram")
    to_person = [c for c in telegram.called("send_text") if c["chat_id"] == 501]
    assert len(to_person) == 1 and to_person[0]["reply_to"] == 77
    alerts = [c for c in telegram.called("send_text") if c["chat_id"] == GROUP]
    assert len(alerts) == 1 and "dlq replay 77" in alerts[0]["text"]
    assert telegram.called("create_topic")[0]["name"].endswith("Topicdesk alerts")
    assert metrics.counts["DeadLetters"] == 1
    # The same record delivered again: nothing more is said or counted.
    asyncio.run(service.handle(record))
    assert len(telegram.called("send_text")) == 2 and metrics.counts["DeadLetters"] == 1
    assert archive.get("77").notified  # type: ignore[union-attr]


def test_a_malformed_body_is_archived_as_such() -> None:
    service, archive, _, telegram, _ = make_service()
    dead = asyncio.run(service.handle(DeadRecord("m9", "\x00garbage", 5, 1.0, None)))
    assert dead.archive_id == "sqs-m9" and dead.reason == REASON_MALFORMED
    assert archive.get("sqs-m9") is not None
    assert all(c["chat_id"] == GROUP for c in telegram.called("send_text"))


def test_telegram_failures_do_not_stop_the_archive_and_outages_are_retried() -> None:
    service, archive, _, telegram, _ = make_service()
    telegram.fail("send_text", RejectedByTelegram("Unauthorized", code=401))
    telegram.fail("create_topic", TransientFailure("down"))
    record = DeadRecord("m2", private_update(5, 9), 5, 1.0, "9")
    # A refusal for good (401) is logged; an outage fails the record so the alert comes later.
    with pytest.raises(TransientFailure):
        asyncio.run(service.handle(record))
    stored = archive.get("5")
    assert stored is not None and stored.reason == REASON_UNRECORDED and not stored.notified
    dead = asyncio.run(service.handle(record))
    assert dead.reason == REASON_UNRECORDED
    texts_sent = [call["text"] for call in telegram.called("send_text")]
    assert sum("could not be delivered" in text for text in texts_sent) == 1  # not told twice
    assert sum("update 5" in text or "5" in text for text in texts_sent[1:]) >= 1  # alert posted
    assert archive.get("5") is not None and archive.get("5").notified  # type: ignore[union-attr]


def test_a_deleted_ops_topic_is_recreated() -> None:
    service, _, _, telegram, _ = make_service()
    asyncio.run(service.handle(DeadRecord("m1", private_update(1, 9), 5, 1.0, "9")))
    telegram.fail("send_text", TopicMissing("message thread not found"))
    # the person's notice fails first (TopicMissing is just an error there), then the alert
    telegram.fail("send_text", TopicMissing("message thread not found"))
    asyncio.run(service.handle(DeadRecord("m2", private_update(2, 9), 5, 1.0, "9")))
    assert len(telegram.called("create_topic")) == 2


def test_a_record_knows_whether_another_conversation_waits_behind_it() -> None:
    plan = BatchPlan(
        [
            RecordView("a", "1", private_update(1, 1)),
            RecordView("b", "2", private_update(2, 2)),
            RecordView("c", "2", private_update(3, 2)),
        ]
    )
    assert plan.others_behind("a") is True  # group 2 waits while a sleeps
    assert plan.others_behind("b") is False  # only its own conversation follows
    assert plan.others_behind("c") is False


def test_answers_in_topics_go_first_and_each_conversation_keeps_its_order() -> None:
    def record(message_id: str, group: str) -> dict[str, Any]:
        return {"messageId": message_id, "attributes": {"MessageGroupId": group}}

    records = [
        record("p1", "501"),
        record("t1", f"{GROUP}:7"),
        record("p2", "501"),
        record("g1", str(GROUP)),  # General: not a person's topic
        record("t2", f"{GROUP}:7"),
        record("u1", f"{GROUP}:9"),
    ]
    order = [r["messageId"] for r in answers_first(records)]
    assert order == ["t1", "t2", "u1", "p1", "p2", "g1"]


def test_a_dead_broadcast_job_is_archived_as_one_and_nobody_is_told_it_wrote() -> None:
    service, archive, _, telegram, _ = make_service()
    body = json.dumps({"kind": "topicdesk.broadcast", "broadcast_id": "77", "user_id": 9})
    dead = asyncio.run(service.handle(DeadRecord("m9", body, 31, 1.0, "9")))
    assert dead.archive_id == "job-77-9" and "broadcast" in dead.reason
    assert archive.get("job-77-9") is not None
    assert [c["chat_id"] for c in telegram.called("send_text")] == [GROUP]  # the alert only
