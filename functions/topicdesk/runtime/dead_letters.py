"""The DLQ processor: each dead update is archived, its writer told, on-call alerted."""

from __future__ import annotations

import asyncio
from typing import Any

import boto3
from aws_lambda_powertools import Logger
from aws_lambda_powertools.utilities.batch import (
    SqsFifoPartialProcessor,
    process_partial_response,
)
from aws_lambda_powertools.utilities.data_classes.sqs_event import SQSRecord
from aws_lambda_powertools.utilities.typing import LambdaContext
from telegram.error import TelegramError

from topicdesk.adapters.aws import SqsVisibility, read_secret
from topicdesk.adapters.dynamodb import (
    DynamoDeadLetterArchive,
    DynamoFailureJournal,
    DynamoSessionRepository,
    DynamoStepLog,
)
from topicdesk.adapters.powertools import PowertoolsMetrics, SystemClock
from topicdesk.adapters.rate_limiter import shared_throttle
from topicdesk.adapters.telegram import PtbTelegramGateway
from topicdesk.domain.dead_letters import DeadLetterService, DeadRecord, OpsChannel
from topicdesk.domain.errors import StorageUnavailable
from topicdesk.runtime.ptb import build_bot
from topicdesk.runtime.retries import RetrySchedule
from topicdesk.settings import Settings

logger = Logger(child=True)

# Used when the bot token cannot be read: Telegram answers 401/404, which the service logs,
# and the archive (the part that matters) still happens.
_UNAVAILABLE_TOKEN = "0:token-unavailable"  # noqa: S105 (a placeholder, not a secret)


class DeadLetterRuntime:
    def __init__(
        self,
        settings: Settings,
        metrics: PowertoolsMetrics,
        *,
        dynamodb: Any = None,
        sqs: Any = None,
    ):
        settings.need("data_table", "limits_table", "bot_token_secret_name", "operator_chat_ids")
        self._loop = asyncio.new_event_loop()
        resource = dynamodb or boto3.resource("dynamodb")
        table = resource.Table(settings.data_table)
        try:
            token = read_secret(settings.bot_token_secret_name)
        except StorageUnavailable:
            logger.exception("bot token unavailable: dead letters are archived, nobody is told")
            token = _UNAVAILABLE_TOKEN
        bot = build_bot(token, settings.telegram_api_url)
        try:
            self._loop.run_until_complete(bot.initialize())
        except TelegramError:
            logger.exception("bot could not start: dead letters are archived, nobody is told")
        # Paced like every other send, and a 429 holds every instance (the consumer's too).
        throttle = shared_throttle(resource.Table(settings.limits_table), settings.limits.gcra())
        gateway = PtbTelegramGateway(bot, throttle=throttle, metrics=metrics)
        sessions = DynamoSessionRepository(table)
        self._service = DeadLetterService(
            archive=DynamoDeadLetterArchive(table),
            journal=DynamoFailureJournal(table),
            telegram=gateway,
            ops=OpsChannel(sessions, gateway, settings.operator_chat_ids[0]),
            clock=SystemClock(),
            metrics=metrics,
            steps=DynamoStepLog(table),
        )
        self._processor = SqsFifoPartialProcessor(skip_group_on_error=True)
        self._processor.raise_on_entire_batch_failure = False  # retries are still scheduled
        # A notice refused with 429 comes back after retry_after, not the DLQ's 3 minutes.
        self._retries = RetrySchedule(
            SqsVisibility(sqs or boto3.client("sqs")), settings.limits.retry_base_seconds
        )

    def handle(self, event: dict[str, Any], context: LambdaContext) -> dict[str, Any]:
        self._retries.reset()
        response = dict(
            process_partial_response(
                event=event,
                record_handler=self._record,
                processor=self._processor,
                context=context,
            )
        )
        self._retries.apply(event.get("Records", []), response)
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
            stored = self._loop.run_until_complete(self._service.handle(dead))
        except Exception as error:
            self._retries.failed(attributes.message_group_id or "", error)
            raise
        logger.warning(
            "dead letter archived",
            extra={"archive_id": stored.archive_id, "reason": stored.reason},
        )
