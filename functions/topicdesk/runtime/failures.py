"""What the consumer does with a record that failed: a deferral (flood limits, an album's
rest, the invocation's end) comes back when it should and is not a failure; a genuine failure
is counted in the failure journal, and the update moves to the DLQ after ``MAX_ATTEMPTS`` of
them; a record that kills the function is found by counting its attempts."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from aws_lambda_powertools import Logger
from aws_lambda_powertools.utilities.data_classes.sqs_event import SQSRecord
from aws_lambda_powertools.utilities.idempotency.exceptions import (
    IdempotencyAlreadyInProgressError,
)

from topicdesk.domain.errors import ChatMigrated, RateLimited, StorageUnavailable, TopicdeskError
from topicdesk.domain.ports import Clock, DeadLetterQueue, FailureJournal, Metrics
from topicdesk.runtime.retries import RetrySchedule
from topicdesk.runtime.work import Worker

logger = Logger(child=True)

SUSPECT_RECEIVES = 10
"""Past this many receives a record's attempts are counted (started, ended): one that kills
the function (a crash, a timeout) is found and dead-lettered by the consumer after
``MAX_ATTEMPTS`` such deaths, so the queue's ``maxReceiveCount`` can sit far above any
healthy record's receives (a person's long flood, held at their pace) without letting a
crash loop run for days."""
REASON_CRASHED = "the function died with it (crash or timeout) {crashes} times"


class DeadlineNear(TopicdeskError):
    """Too little time left in this invocation to start another record."""


@dataclass(frozen=True, kw_only=True)
class FailurePolicy:
    worker: Worker
    journal: FailureJournal
    dead_letters: DeadLetterQueue
    retries: RetrySchedule
    metrics: Metrics
    clock: Clock
    max_attempts: int
    """Genuine failures (or deaths) after which an update moves to the DLQ."""

    def suspect(self, record: SQSRecord, update: dict[str, Any] | None) -> bool | None:
        """For a record received suspiciously often, count its attempt (True); None when the
        attempts that never ended (the function died with them) reach ``MAX_ATTEMPTS``: it is
        then moved to the DLQ here."""
        receives = int(record.attributes.approximate_receive_count or 1)
        if update is None or receives <= SUSPECT_RECEIVES:
            return False
        update_id = int(update["update_id"])
        try:
            failures, crashes = self.journal.begin_attempt(update_id, self.clock.now())
        except StorageUnavailable:
            return False  # not counted this time; SQS's maxReceiveCount stays the backstop
        if crashes and failures + crashes >= self.max_attempts:
            reason = REASON_CRASHED.format(crashes=crashes)
            self.journal.record(update_id, reason, self.clock.now())
            self._move_to_dlq(record, failures + crashes)
            return None
        return True

    def end_attempt(self, update: dict[str, Any] | None) -> None:
        if update is None:
            return
        try:
            self.journal.end_attempt(int(update["update_id"]))
        except StorageUnavailable:
            logger.warning("could not note the end of an attempt")

    def failed(self, record: SQSRecord, update: dict[str, Any] | None, error: Exception) -> None:
        """Count the failure; move the update to the DLQ when it has failed enough, else
        fail the record (and its group) with a retry scheduled."""
        failures = self._count_failure(record, update, error)
        if isinstance(error, ChatMigrated):
            # The operators' group was upgraded: no retry can succeed until the stage's
            # operatorChatIds names the new chat. Straight to the DLQ, reason included.
            logger.error(
                "operators' group migrated: set operatorChatIds to %s and replay the DLQ",
                error.new_chat_id,
            )
            failures = self.max_attempts
        if failures >= self.max_attempts:
            if update is None:
                self._give_up_job(record.body or "")
            self._move_to_dlq(record, failures)
            return
        # Out of time: the record comes back at once, for another invocation.
        group = record.attributes.message_group_id or ""
        self.retries.failed(group, None if isinstance(error, DeadlineNear) else error)
        raise error

    def _move_to_dlq(self, record: SQSRecord, failures: int) -> None:
        self.dead_letters.send(
            record.body or "", record.attributes.message_group_id, record.message_id
        )
        self.metrics.count("UpdatesDeadLettered")
        logger.error("update moved to the DLQ", extra={"failures": failures})

    def _give_up_job(self, body: str) -> None:
        try:
            self.worker.give_up(body)
        except Exception:  # the job goes to the DLQ regardless; on-call sees it there
            logger.exception("could not count a failed broadcast job")

    def _count_failure(
        self, record: SQSRecord, update: dict[str, Any] | None, error: BaseException
    ) -> int:
        """How many genuine failures the update has had (0 for a deferral, which is not one)."""
        reason = f"{type(error).__name__}: {error}"
        if isinstance(error, (RateLimited, DeadlineNear, IdempotencyAlreadyInProgressError)):
            self.metrics.count("UpdatesDeferred")
            logger.info("record deferred", extra={"reason": reason})
            return 0
        self.metrics.count("UpdatesFailed")
        logger.warning("record failed", extra={"reason": reason})
        receives = int(record.attributes.approximate_receive_count or 1)
        if update is None:
            return receives  # a malformed body has no update_id to journal under
        try:
            return self.journal.record(int(update["update_id"]), reason, self.clock.now())
        except StorageUnavailable:
            logger.warning("could not journal the failure")
            return receives
