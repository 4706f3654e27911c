"""The DLQ processor's batch policy: each dead update is archived, its writer told, on-call
alerted (``DeadLetterService``); a notice refused with 429 brings the record back after
``retry_after``. Built in the composition root (``topicdesk.composition``)."""

from __future__ import annotations

import asyncio
from dataclasses import dataclass, field
from typing import Any

from aws_lambda_powertools import Logger
from aws_lambda_powertools.utilities.batch import SqsFifoPartialProcessor, process_partial_response
from aws_lambda_powertools.utilities.data_classes.sqs_event import SQSRecord
from aws_lambda_powertools.utilities.typing import LambdaContext

from topicdesk.domain.dead_letters import DeadLetterService, DeadRecord
from topicdesk.runtime.retries import RetrySchedule, fifo_processor

logger = Logger(child=True)


@dataclass(frozen=True, kw_only=True)
class DeadLetterRuntime:
    loop: asyncio.AbstractEventLoop
    service: DeadLetterService
    retries: RetrySchedule
    _processor: SqsFifoPartialProcessor = field(init=False, default_factory=fifo_processor)

    def handle(self, event: dict[str, Any], context: LambdaContext) -> dict[str, Any]:
        self.retries.reset()
        response = dict(
            process_partial_response(
                event=event, record_handler=self._record, processor=self._processor, context=context
            )
        )
        self.retries.apply(event.get("Records", []), response)
        return response

    def _record(self, record: SQSRecord) -> None:
        attributes = record.attributes
        dead = DeadRecord(
            message_id=record.message_id,
            body=record.body or "",
            receive_count=int(attributes.approximate_receive_count or 0),
            sent_at=float(attributes.sent_timestamp or 0) / 1000.0,
            group_id=attributes.message_group_id,
        )
        try:
            stored = self.loop.run_until_complete(self.service.handle(dead))
        except Exception as error:
            self.retries.failed(attributes.message_group_id or "", error)
            raise
        logger.warning(
            "dead letter archived",
            extra={"archive_id": stored.archive_id, "reason": stored.reason},
        )
