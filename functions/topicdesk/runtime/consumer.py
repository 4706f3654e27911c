"""The consumer's batch and retry policy: one SQS FIFO batch, one record at a time.

- ``SqsFifoPartialProcessor(skip_group_on_error=True)``: a failing conversation holds back
  only itself (its later records come back with it, in order).
- After the batch, each failed record's visibility is set to when it should come back
  (``RetrySchedule``): ``retry_after`` after a 429 (the whole group), else a backoff.
- Receive counts and the DLQ: a flood-limit deferral is not a failure, yet SQS counts every
  receive. So the consumer counts genuine failures itself (the failure journal) and moves an
  update to the DLQ after ``MAX_ATTEMPTS`` of them; the queue's much higher
  ``maxReceiveCount`` is only the backstop for crash loops (a record that kills the function).

What a record *does* is the ``Worker``'s (``runtime/work.py``); everything is built in the
composition root (``topicdesk.composition``).
"""

from __future__ import annotations

import time
from typing import Any

from aws_lambda_powertools import Logger
from aws_lambda_powertools.utilities.batch import SqsFifoPartialProcessor, process_partial_response
from aws_lambda_powertools.utilities.data_classes.sqs_event import SQSRecord
from aws_lambda_powertools.utilities.idempotency.exceptions import (
    IdempotencyAlreadyInProgressError,
)
from aws_lambda_powertools.utilities.typing import LambdaContext

from topicdesk.domain.batch import AlbumIncomplete, BatchPlan, RecordView, answers_first
from topicdesk.domain.errors import ChatMigrated, RateLimited, StorageUnavailable, TopicdeskError
from topicdesk.domain.ports import Clock, DeadLetterQueue, FailureJournal, Metrics
from topicdesk.domain.throttle import SharedThrottle
from topicdesk.runtime.retries import RetrySchedule
from topicdesk.runtime.work import Worker

logger = Logger(child=True)

DEADLINE_MARGIN_MS = 5_000
BUSY_PATIENCE_SECONDS = 0.5
"""The longest flood-limit sleep of a record with other records behind it in the batch:
records of other conversations (an answer to a person, needing no group slot) must not wait
for a group's slot they do not need. A longer wait books the slot and defers the record."""


class DeadlineNear(TopicdeskError):
    """Too little time left in this invocation to start another record."""


def record_view(record: dict[str, Any]) -> RecordView:
    attributes = record.get("attributes", {})
    return RecordView(
        message_id=record["messageId"],
        group_id=attributes.get("MessageGroupId", ""),
        body=record.get("body", ""),
        sent_at=float(attributes.get("SentTimestamp", 0)) / 1000,
        receive_count=int(attributes.get("ApproximateReceiveCount", 1)),
    )


class ConsumerRuntime:
    def __init__(
        self,
        *,
        worker: Worker,
        throttle: SharedThrottle | None,
        journal: FailureJournal,
        dead_letters: DeadLetterQueue,
        retries: RetrySchedule,
        metrics: Metrics,
        clock: Clock,
        max_attempts: int,
    ) -> None:
        self._worker = worker
        self._throttle = throttle
        self._journal = journal
        self._dead_letters = dead_letters
        self._retries = retries
        self._metrics = metrics
        self._clock = clock
        self._max_attempts = max_attempts
        self._processor = SqsFifoPartialProcessor(skip_group_on_error=True)
        # A batch whose records all failed is answered like any other (every id listed) so
        # that their retries are still scheduled, instead of raising and losing that step.
        self._processor.raise_on_entire_batch_failure = False
        self._plan = BatchPlan([])
        self._context: LambdaContext | None = None

    def handle(self, event: dict[str, Any], context: LambdaContext) -> dict[str, Any]:
        self._worker.begin_batch(context)
        self._context = context
        records = answers_first(event.get("Records", []))
        event = {**event, "Records": records}
        self._plan = BatchPlan([record_view(record) for record in records])
        self._retries.reset()
        response = dict(
            process_partial_response(
                event=event, record_handler=self._record, processor=self._processor, context=context
            )
        )
        self._retries.apply(records, response)
        return response

    def _record(self, record: SQSRecord) -> None:
        update = self._plan.updates.get(record.message_id)
        started = time.time()
        try:
            self._begin(record)
            if update is None:
                self._worker.job(record.body or "")
            else:
                self._worker.update(update, self._plan.followers(record.message_id))
        except Exception as error:
            self._failed(record, update, error)
            return  # moved to the DLQ: the group's next records may go on
        sent_at = float(record.attributes.sent_timestamp) / 1000.0
        self._metrics.count("UpdatesProcessed")
        self._metrics.milliseconds("ProcessingLatency", max(0.0, (time.time() - sent_at) * 1000))
        logger.debug("processed", extra={"seconds": round(time.time() - started, 3)})

    def _begin(self, record: SQSRecord) -> None:
        """Refuse to start without time to finish; tell the limiter whose sends follow."""
        if self._context is not None:
            remaining_ms = self._context.get_remaining_time_in_millis()
            if remaining_ms < DEADLINE_MARGIN_MS:
                raise DeadlineNear("invocation deadline near")
            if self._throttle is not None:
                # No flood-limit wait may carry this record past the invocation's end; a
                # record that was deferred before may find its slot booked.
                self._throttle.begin_record(
                    record.message_id,
                    int(record.attributes.approximate_receive_count or 1),
                    time.time() + (remaining_ms - DEADLINE_MARGIN_MS) / 1000,
                    BUSY_PATIENCE_SECONDS if self._plan.others_behind(record.message_id) else None,
                )
        album_wait = self._plan.album_wait(record.message_id, time.time())
        if album_wait > 0:
            raise AlbumIncomplete(album_wait)

    def _failed(self, record: SQSRecord, update: dict[str, Any] | None, error: Exception) -> None:
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
            failures = self._max_attempts
        if failures >= self._max_attempts:
            if update is None:
                self._give_up_job(record.body or "")
            self._dead_letters.send(
                record.body or "", record.attributes.message_group_id, record.message_id
            )
            self._metrics.count("UpdatesDeadLettered")
            logger.error("update moved to the DLQ", extra={"failures": failures})
            return
        # Out of time: the record comes back at once, for another invocation.
        group = record.attributes.message_group_id or ""
        self._retries.failed(group, None if isinstance(error, DeadlineNear) else error)
        raise error

    def _give_up_job(self, body: str) -> None:
        try:
            self._worker.give_up(body)
        except Exception:  # the job goes to the DLQ regardless; on-call sees it there
            logger.exception("could not count a failed broadcast job")

    def _count_failure(
        self, record: SQSRecord, update: dict[str, Any] | None, error: BaseException
    ) -> int:
        """How many genuine failures the update has had (0 for a deferral, which is not one)."""
        reason = f"{type(error).__name__}: {error}"
        if isinstance(error, (RateLimited, DeadlineNear, IdempotencyAlreadyInProgressError)):
            self._metrics.count("UpdatesDeferred")
            logger.info("record deferred", extra={"reason": reason})
            return 0
        self._metrics.count("UpdatesFailed")
        logger.warning("record failed", extra={"reason": reason})
        receives = int(record.attributes.approximate_receive_count or 1)
        if update is None:
            return receives  # a malformed body has no update_id to journal under
        try:
            return self._journal.record(int(update["update_id"]), reason, self._clock.now())
        except StorageUnavailable:
            logger.warning("could not journal the failure")
            return receives
