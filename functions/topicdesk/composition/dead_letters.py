"""The DLQ processor's wiring: the archive, the Bot (paced by the shared limiter), the ops
channel and the batch policy."""

from __future__ import annotations

import asyncio
from functools import partial

import boto3
from aws_lambda_powertools import Logger
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
from topicdesk.domain.dead_letters import DeadLetterService, OpsChannel
from topicdesk.domain.errors import StorageUnavailable
from topicdesk.runtime.dead_letters import DeadLetterRuntime
from topicdesk.runtime.ptb import build_bot, fresh_bot
from topicdesk.runtime.retries import RetrySchedule
from topicdesk.settings import DeadLetterSettings

logger = Logger(child=True)

# Used when the bot token cannot be read: Telegram answers 401/404, which the service logs,
# and the archive (the part that matters) still happens.
_UNAVAILABLE_TOKEN = "0:token-unavailable"  # noqa: S105 (a placeholder, not a secret)


def dead_letter_runtime(metrics: PowertoolsMetrics) -> DeadLetterRuntime:
    settings = DeadLetterSettings.from_env()
    telegram = settings.telegram
    dynamodb = boto3.resource("dynamodb")
    table = dynamodb.Table(settings.data_table)
    loop = asyncio.new_event_loop()
    try:
        token = read_secret(telegram.bot_token_secret_name)
    except StorageUnavailable:
        logger.exception("bot token unavailable: dead letters are archived, nobody is told")
        token = _UNAVAILABLE_TOKEN
    bot = build_bot(token, telegram.api_url)
    try:
        loop.run_until_complete(bot.initialize())
    except TelegramError:
        logger.exception("bot could not start: dead letters are archived, nobody is told")
    # Paced like every other send, and a 429 holds every instance (the consumer's too).
    throttle = shared_throttle(dynamodb.Table(telegram.limits_table), telegram.limits.gcra())
    gateway = PtbTelegramGateway(
        bot,
        throttle=throttle,
        metrics=metrics,
        rebuild=partial(fresh_bot, build_bot, telegram.bot_token_secret_name, telegram.api_url),
    )
    service = DeadLetterService(
        archive=DynamoDeadLetterArchive(table),
        journal=DynamoFailureJournal(table),
        telegram=gateway,
        ops=OpsChannel(DynamoSessionRepository(table), gateway, telegram.operator_chat_ids[0]),
        clock=SystemClock(),
        metrics=metrics,
        steps=DynamoStepLog(table),
    )
    # A notice refused with 429 comes back after retry_after, not the DLQ's 3 minutes.
    retries = RetrySchedule(SqsVisibility(boto3.client("sqs")), telegram.limits.retry_base_seconds)
    return DeadLetterRuntime(loop=loop, service=service, retries=retries)
