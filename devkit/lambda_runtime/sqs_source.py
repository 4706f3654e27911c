"""An SQS event source mapping, played locally against any SQS endpoint (moto here).

Like Lambda's: receive up to ``batch_size`` messages (FIFO group locking and the redrive to
the DLQ after ``maxReceiveCount`` receives are the queue's own doing), invoke the handler
with one event, then delete what succeeded. ``ReportBatchItemFailures``: the identifiers the
handler returns stay in the queue; an invalid answer or an exception fails the whole batch,
which then comes back after the visibility timeout.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from devkit.lambda_runtime.context import FakeLambdaContext
from devkit.lambda_runtime.events import sqs_record

logger = logging.getLogger(__name__)

Handler = Callable[[dict[str, Any], Any], Any]


@dataclass
class BatchOutcome:
    received: int = 0
    succeeded: int = 0
    failed: int = 0
    function_error: str | None = None
    failed_ids: list[str] = field(default_factory=list)


@dataclass(kw_only=True, eq=False)  # a poller: compared by identity
class SqsEventSource:
    sqs: Any
    queue_url: str
    queue_arn: str
    handler: Handler
    function_name: str
    batch_size: int = 10
    timeout_seconds: float = 30.0
    region: str = "us-east-1"

    def poll_once(self, wait_seconds: int = 0) -> BatchOutcome:
        answer = self.sqs.receive_message(
            QueueUrl=self.queue_url,
            MaxNumberOfMessages=self.batch_size,
            AttributeNames=["All"],
            MessageSystemAttributeNames=["All"],
            MessageAttributeNames=["All"],
            WaitTimeSeconds=wait_seconds,
        )
        messages = answer.get("Messages", [])
        outcome = BatchOutcome(received=len(messages))
        if not messages:
            return outcome
        records = [sqs_record(m, queue_arn=self.queue_arn, region=self.region) for m in messages]
        context = FakeLambdaContext(self.function_name, self.timeout_seconds, region=self.region)
        try:
            response = self.handler({"Records": records}, context)
        except Exception as error:  # Lambda: the whole batch returns to the queue
            logger.exception("%s raised; the batch returns to the queue", self.function_name)
            outcome.function_error = f"{type(error).__name__}: {error}"
            outcome.failed = len(messages)
            outcome.failed_ids = [m["MessageId"] for m in messages]
            return outcome
        ids = {m["MessageId"] for m in messages}
        failed = self._failed_ids(response, ids)
        if failed is None:
            outcome.function_error = "invalid batchItemFailures response"
            outcome.failed = len(messages)
            outcome.failed_ids = sorted(ids)
            return outcome
        done = [m for m in messages if m["MessageId"] not in failed]
        for start in range(0, len(done), 10):
            self.sqs.delete_message_batch(
                QueueUrl=self.queue_url,
                Entries=[
                    {"Id": str(i), "ReceiptHandle": m["ReceiptHandle"]}
                    for i, m in enumerate(done[start : start + 10])
                ],
            )
        outcome.succeeded = len(done)
        outcome.failed = len(failed)
        outcome.failed_ids = sorted(failed)
        return outcome

    @staticmethod
    def _failed_ids(response: Any, ids: set[str]) -> set[str] | None:
        if response is None:
            return set()
        if not isinstance(response, dict):
            return None
        items = response.get("batchItemFailures", [])
        if not isinstance(items, list):
            return None
        failed: set[str] = set()
        for item in items:
            identifier = item.get("itemIdentifier") if isinstance(item, dict) else None
            if not identifier or identifier not in ids:
                return None  # Lambda treats this as a failure of the whole batch
            failed.add(identifier)
        return failed

    def drain(self, max_batches: int = 1000) -> list[BatchOutcome]:
        """Poll until the queue gives nothing (visible); bounded."""
        outcomes = []
        for _ in range(max_batches):
            outcome = self.poll_once()
            if outcome.received == 0:
                break
            outcomes.append(outcome)
        return outcomes
