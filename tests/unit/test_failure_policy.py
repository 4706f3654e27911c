"""The consumer's failure policy: deferrals are not failures; genuine failures and attempts
the function died with (crash, timeout) move an update to the DLQ after MAX_ATTEMPTS."""

from __future__ import annotations

import json
from typing import Any

import pytest
from aws_lambda_powertools.utilities.data_classes.sqs_event import SQSRecord
from topicdesk.domain.errors import RateLimited, TransientFailure
from topicdesk.runtime.failures import SUSPECT_RECEIVES, FailurePolicy
from topicdesk.runtime.retries import RetrySchedule

from tests.support.fakes import FakeClock, FakeMetrics, InMemoryJournal


class Sent:
    def __init__(self) -> None:
        self.bodies: list[str] = []

    def send(self, body: str, group_id: str | None, deduplication_id: str) -> None:
        self.bodies.append(body)


class NoWorker:
    def give_up(self, body: str) -> None:
        raise AssertionError("updates are not jobs")


def record(receives: int, update_id: int = 7) -> SQSRecord:
    return SQSRecord(
        {
            "messageId": f"m-{receives}",
            "body": json.dumps({"update_id": update_id, "message": {}}),
            "attributes": {
                "ApproximateReceiveCount": str(receives),
                "MessageGroupId": "501",
                "SentTimestamp": "0",
            },
        }
    )


def policy(journal: InMemoryJournal, sent: Sent) -> FailurePolicy:
    return FailurePolicy(
        worker=NoWorker(),  # type: ignore[arg-type]
        journal=journal,
        dead_letters=sent,
        retries=RetrySchedule(visibility=None, retry_base_seconds=1),  # type: ignore[arg-type]
        metrics=FakeMetrics(),
        clock=FakeClock(),
        max_attempts=3,
    )


UPDATE: dict[str, Any] = {"update_id": 7}


def test_deferrals_never_count_and_genuine_failures_do() -> None:
    journal, sent = InMemoryJournal(), Sent()
    failures = policy(journal, sent)
    for receives in range(1, 40):  # a long flood held at the person's pace
        with pytest.raises(RateLimited):
            failures.failed(record(receives), UPDATE, RateLimited(8.0, key="person#501"))
    assert sent.bodies == []
    for receives in (40, 41):
        with pytest.raises(TransientFailure):
            failures.failed(record(receives), UPDATE, TransientFailure("502"))
    failures.failed(record(42), UPDATE, TransientFailure("502"))  # the third: to the DLQ
    assert len(sent.bodies) == 1


def test_a_record_that_kills_the_function_is_found_by_its_unended_attempts() -> None:
    journal, sent = InMemoryJournal(), Sent()
    failures = policy(journal, sent)
    for receives in range(1, SUSPECT_RECEIVES + 1):
        assert failures.suspect(record(receives), UPDATE) is False  # not counted yet
    receives = SUSPECT_RECEIVES + 1
    for _ in range(3):  # three attempts begin, the function dies each time (no end)
        assert failures.suspect(record(receives), UPDATE) is True
        receives += 1
    assert failures.suspect(record(receives), UPDATE) is None  # found: moved to the DLQ
    assert len(sent.bodies) == 1
    assert "died with it" in journal.records[7].reason


def test_attempts_that_end_are_not_deaths() -> None:
    journal, sent = InMemoryJournal(), Sent()
    failures = policy(journal, sent)
    for receives in range(SUSPECT_RECEIVES + 1, SUSPECT_RECEIVES + 20):
        assert failures.suspect(record(receives), UPDATE) is True
        failures.end_attempt(UPDATE)  # deferred, or done: it ended
    assert sent.bodies == []
