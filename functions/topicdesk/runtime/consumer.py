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
from dataclasses import dataclass, field
from typing import Any

from aws_lambda_powertools import Logger
from aws_lambda_powertools.utilities.batch import SqsFifoPartialProcessor, process_partial_response
from aws_lambda_powertools.utilities.data_classes.sqs_event import SQSRecord
from aws_lambda_powertools.utilities.typing import LambdaContext

from topicdesk.domain.batch import AlbumIncomplete, BatchPlan, RecordView, answers_first
from topicdesk.domain.ports import Metrics
from topicdesk.domain.throttle import SharedThrottle
from topicdesk.runtime.failures import DeadlineNear, FailurePolicy
from topicdesk.runtime.retries import RetrySchedule, fifo_processor
from topicdesk.runtime.work import Worker

logger = Logger(child=True)

DEADLINE_MARGIN_MS = 5_000
BUSY_PATIENCE_SECONDS = 0.5
"""The longest flood-limit sleep of a record with other records behind it in the batch:
records of other conversations (an answer to a person, needing no group slot) must not wait
for a group's slot they do not need. A longer wait books the slot and defers the record."""


def record_view(record: dict[str, Any]) -> RecordView:
    attributes = record.get("attributes", {})
    return RecordView(
        message_id=record["messageId"],
        group_id=attributes.get("MessageGroupId", ""),
        body=record.get("body", ""),
        sent_at=float(attributes.get("SentTimestamp", 0)) / 1000,
        receive_count=int(attributes.get("ApproximateReceiveCount", 1)),
    )


@dataclass(kw_only=True, eq=False)
class ConsumerRuntime:
    worker: Worker
    throttle: SharedThrottle | None
    failures: FailurePolicy
    retries: RetrySchedule
    metrics: Metrics
    _processor: SqsFifoPartialProcessor = field(init=False, default_factory=fifo_processor)
    _plan: BatchPlan = field(init=False, default_factory=lambda: BatchPlan([]))
    """The batch being handled."""
    _context: LambdaContext | None = field(init=False, default=None)

    def handle(self, event: dict[str, Any], context: LambdaContext) -> dict[str, Any]:
        self.worker.begin_batch(context)
        self._context = context
        records = answers_first(event.get("Records", []))
        event = {**event, "Records": records}
        self._plan = BatchPlan([record_view(record) for record in records])
        self.retries.reset()
        response = dict(
            process_partial_response(
                event=event, record_handler=self._record, processor=self._processor, context=context
            )
        )
        self.retries.apply(records, response)
        return response

    def _record(self, record: SQSRecord) -> None:
        update = self._plan.updates.get(record.message_id)
        started = time.time()
        counted = self.failures.suspect(record, update)
        if counted is None:
            return  # it killed the function too often: moved to the DLQ
        try:
            self._begin(record)
            if update is None:
                self.worker.job(record.body or "")
            else:
                self.worker.update(update, self._plan.followers(record.message_id))
        except Exception as error:
            self.failures.failed(record, update, error)
            return  # moved to the DLQ: the group's next records may go on
        finally:
            if counted:
                self.failures.end_attempt(update)
        sent_at = float(record.attributes.sent_timestamp) / 1000.0
        self.metrics.count("UpdatesProcessed")
        self.metrics.milliseconds("ProcessingLatency", max(0.0, (time.time() - sent_at) * 1000))
        logger.debug("processed", extra={"seconds": round(time.time() - started, 3)})

    def _begin(self, record: SQSRecord) -> None:
        """Refuse to start without time to finish; tell the limiter whose sends follow."""
        if self._context is not None:
            remaining_ms = self._context.get_remaining_time_in_millis()
            if remaining_ms < DEADLINE_MARGIN_MS:
                raise DeadlineNear("invocation deadline near")
            if self.throttle is not None:
                # No flood-limit wait may carry this record past the invocation's end; a
                # record that was deferred before may find its slot booked.
                self.throttle.begin_record(
                    record.message_id,
                    int(record.attributes.approximate_receive_count or 1),
                    time.time() + (remaining_ms - DEADLINE_MARGIN_MS) / 1000,
                    BUSY_PATIENCE_SECONDS if self._plan.others_behind(record.message_id) else None,
                )
        album_wait = self._plan.album_wait(record.message_id, time.time())
        if album_wait > 0:
            raise AlbumIncomplete(album_wait)
