"""The inbox's scheduled work, wired (issue 15): the scheduled function (nudge sweep, weekly
digest) and, in the consumer, the jobs it queues and the away message."""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from typing import TYPE_CHECKING, Any

import boto3

from topicdesk.adapters.aws import SqsUpdateQueue
from topicdesk.adapters.dynamodb import DynamoStepLog
from topicdesk.adapters.dynamodb.inbox import DynamoInboxStore
from topicdesk.adapters.inbox_schedule import DynamoStatsTopics, SqsInboxSchedule
from topicdesk.adapters.powertools import PowertoolsMetrics, SystemClock
from topicdesk.domain.inbox import Inbox
from topicdesk.domain.inbox.away import Away
from topicdesk.domain.inbox.digest import Digests
from topicdesk.domain.inbox.nudges import Nudges, Sla, Sweep
from topicdesk.domain.ports import Clock
from topicdesk.runtime.inbox_schedule import InboxScheduleRuntime, ScheduledInboxWork
from topicdesk.settings import InboxScheduleSettings, InboxTimes

if TYPE_CHECKING:  # the scheduled function imports no Telegram library
    from topicdesk.adapters.telegram_inbox import InboxTelegramGateway


def sla_of(times: InboxTimes) -> Sla:
    return Sla(times.sla_minutes, times.hours)


def schedule_runtime(
    metrics: PowertoolsMetrics, *, settings: InboxScheduleSettings | None = None
) -> InboxScheduleRuntime:
    """The scheduled function: it reads the inbox records and queues jobs, nothing else."""
    settings = settings or InboxScheduleSettings.from_env()
    table = boto3.resource("dynamodb").Table(settings.data_table)
    queue = SqsInboxSchedule(SqsUpdateQueue(boto3.client("sqs"), settings.updates_queue_url))
    clock = SystemClock()
    chats = settings.operator_chat_ids
    sweep = Sweep(DynamoInboxStore(table), queue, sla_of(settings.times), clock, chats)
    return InboxScheduleRuntime(sweep, queue, chats, clock, metrics)


def scheduled_work(
    times: InboxTimes,
    *,
    backlog: Callable[[int], float],
    loop: asyncio.AbstractEventLoop,
    table: Any,
    gateway: InboxTelegramGateway,
    clock: Clock,
    inbox: Inbox,
) -> ScheduledInboxWork:
    """The consumer's side: the nudge and digest jobs; and ``inbox`` gets the away message
    (the relay tells a person once per conversation outside business hours)."""
    store = DynamoInboxStore(table)
    if not times.hours.always:
        inbox.away = Away(store, gateway, times.hours, clock, times.away_message)
    return ScheduledInboxWork(
        loop,
        Nudges(store, gateway, sla_of(times), clock, backlog),
        Digests(store, DynamoStatsTopics(table), gateway, backlog),
        DynamoStepLog(table),
    )
