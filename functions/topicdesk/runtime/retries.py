"""When the failed records of one SQS batch come back (both queue consumers use it).

SQS would bring a failed record back after the queue's visibility timeout (minutes). Each
failed record's group remembers its error and when it happened; after the batch, every
failed record is made visible again exactly when it should be: ``retry_after`` after a 429
(the whole group, so the conversation keeps its order), at once when the invocation ran out
of time, else a growing backoff (``topicdesk.domain.batch.retry_delay``).
"""

from __future__ import annotations

import time
from typing import Any

from aws_lambda_powertools import Logger
from aws_lambda_powertools.utilities.batch import SqsFifoPartialProcessor

from topicdesk.adapters.aws import Deferral, SqsVisibility
from topicdesk.domain.batch import retry_delay
from topicdesk.domain.errors import StorageUnavailable

logger = Logger(child=True)


def fifo_processor() -> SqsFifoPartialProcessor:
    """Powertools' FIFO batch processor as both queue consumers run it: a failing record holds
    back only its own message group (its later records come back with it, in order), and a
    batch whose records all failed is answered like any other (every id listed), so that
    their retries are still scheduled instead of the step being lost to a raise."""
    processor = SqsFifoPartialProcessor(skip_group_on_error=True)
    processor.raise_on_entire_batch_failure = False
    return processor


class RetrySchedule:
    """One per batch: ``failed`` as the records fail, ``apply`` once the batch is answered."""

    def __init__(self, visibility: SqsVisibility, retry_base_seconds: float) -> None:
        self._visibility = visibility
        self._base = retry_base_seconds
        self._errors: dict[str, tuple[BaseException | None, float]] = {}

    def reset(self) -> None:
        self._errors = {}

    def failed(self, group: str, error: BaseException | None) -> None:
        """``group``'s record failed now with ``error`` (None: come back at once)."""
        self._errors[group] = (error, time.time())

    def apply(self, records: list[dict[str, Any]], response: dict[str, Any]) -> None:
        failed = {item["itemIdentifier"] for item in response.get("batchItemFailures", [])}
        by_queue: dict[str, list[Deferral]] = {}
        for record in records:
            if record["messageId"] not in failed:
                continue
            attributes = record.get("attributes", {})
            group = attributes.get("MessageGroupId", "")
            error, failed_at = self._errors.get(group, (None, time.time()))
            receive_count = int(attributes.get("ApproximateReceiveCount", "1"))
            delay = (
                0
                if group in self._errors and error is None
                else retry_delay(error, receive_count, self._base, elapsed=time.time() - failed_at)
            )
            by_queue.setdefault(record["eventSourceARN"], []).append(
                Deferral(record["receiptHandle"], delay)
            )
        for queue_arn, deferrals in by_queue.items():
            try:
                self._visibility.defer(queue_arn, deferrals)
            except StorageUnavailable:
                logger.warning("could not schedule retries; the queue's timeout applies")
