"""The consumer's wiring: DynamoDB, SQS, the shared limiter, the Bot and PTB's Application,
the relay and broadcasts, the worker and the batch policy."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable
from functools import partial

import boto3
from botocore.config import Config
from telegram import Bot

from topicdesk.adapters.aws import SqsDeadLetterQueue, SqsJobQueue, SqsVisibility, read_secret
from topicdesk.adapters.dynamodb import (
    DynamoAdminDirectory,
    DynamoBroadcastRepository,
    DynamoFailureJournal,
    DynamoRoster,
    DynamoStepLog,
    conversions,
)
from topicdesk.adapters.dynamodb.challenges import DynamoChallengeStore
from topicdesk.adapters.powertools import PowertoolsMetrics, SystemClock
from topicdesk.adapters.rate_limiter import DynamoFloodGate, DynamoTatStore, shared_throttle
from topicdesk.adapters.telegram_inbox import InboxTelegramGateway
from topicdesk.adapters.waiting_line import DynamoWaitingLine
from topicdesk.composition import erase
from topicdesk.composition.inbox import inbox_parts, slot_backlog
from topicdesk.composition.inbox_schedule import scheduled_work
from topicdesk.composition.visitors import visitor_work, widget_ports
from topicdesk.domain.broadcast import BroadcastService
from topicdesk.domain.commands import Registry
from topicdesk.domain.limiter import rules_for
from topicdesk.domain.ports import Throttle
from topicdesk.domain.relay import Pace, Relay, RelaySettings, ShardPicker
from topicdesk.domain.relay.inbound import GREETING_EVERY_SECONDS
from topicdesk.domain.relay.newcomers import cap_rule
from topicdesk.domain.roles import Roles
from topicdesk.domain.throttle import SharedThrottle
from topicdesk.runtime.consumer import ConsumerRuntime
from topicdesk.runtime.failures import FailurePolicy
from topicdesk.runtime.inbox import InboxWork
from topicdesk.runtime.ptb import RelayApplication, build_bot, fresh_bot
from topicdesk.runtime.retries import RetrySchedule
from topicdesk.runtime.work import Worker
from topicdesk.settings import ConsumerSettings

BotFactory = Callable[[str, str], Bot]


def consumer_runtime(
    metrics: PowertoolsMetrics,
    *,
    settings: ConsumerSettings | None = None,
    bot_factory: BotFactory = build_bot,
    throttle: Throttle | None = None,
) -> ConsumerRuntime:
    """``bot_factory`` and ``throttle``: the benchmarks' baseline swaps in PTB's own rate
    limiter for the shared one (``bench/limits``)."""
    settings = settings or ConsumerSettings.from_env()
    telegram = settings.telegram
    # No client-side parameter validation: the services validate every request anyway (a
    # bad one still fails, as a ClientError), and it is about a sixth of botocore's CPU per
    # call, on the consumer's ten or so calls per update (issue 16).
    aws = Config(parameter_validation=False)
    dynamodb, sqs = boto3.resource("dynamodb", config=aws), boto3.client("sqs", config=aws)
    conversions.install(dynamodb)  # boto3's value conversions without walking the model
    table = dynamodb.Table(settings.data_table)
    limits_table = dynamodb.Table(telegram.limits_table)
    clock = SystemClock()
    gcra = telegram.limits.gcra()
    shared = shared_throttle(limits_table, gcra)
    store = DynamoTatStore(limits_table)
    bot = bot_factory(read_secret(telegram.bot_token_secret_name), telegram.api_url)
    gateway = InboxTelegramGateway(
        bot,
        throttle=throttle or shared,
        metrics=metrics,
        rebuild=partial(fresh_bot, bot_factory, telegram.bot_token_secret_name, telegram.api_url),
    )
    sessions = erase.session_store(settings, table)  # expires after the stage's retention
    roles = Roles(
        directory=DynamoAdminDirectory(table),
        fetch_admins=gateway.administrators,
        clock=clock,
        stage_admins=frozenset(settings.admin_user_ids),
    )
    broadcasts = BroadcastService(
        broadcasts=DynamoBroadcastRepository(table),
        roster=DynamoRoster(table),
        jobs=SqsJobQueue(sqs, settings.updates_queue_url),
        sessions=sessions,
        telegram=gateway,
        clock=clock,
        metrics=metrics,
        admins=roles.admins,  # a second admin confirms when the group has two or more
        self_confirm=settings.broadcast_self_confirm,
    )

    def group_backlog(chat_id: int) -> float:
        """How long a new person would wait in this group: for its messages' slot, or for
        a place in its new-people line (whichever is later)."""
        now, line = time.time(), cap_rule(chat_id, telegram.limits.new_topics_per_hour)
        return max(
            store.backlog(rules_for(chat_id, 1, gcra)[0].key, now),
            store.backlog(line.key, now) - line.tolerance,
        )

    widget, push = widget_ports(settings, table)
    inbox, refresh = inbox_parts(
        table=table,
        sqs=sqs,
        queue_url=settings.updates_queue_url,
        gateway=gateway,
        limits=store,
        gcra=gcra,
        clock=clock,
    )
    relay = Relay(
        sessions=sessions,
        shard_picker=ShardPicker(sessions, telegram.operator_chat_ids, backlog=group_backlog),
        messages=erase.message_map(settings, table),
        telegram=gateway,
        settings=RelaySettings(
            operator_chat_ids=telegram.operator_chat_ids,
            greeting=settings.greeting,
            flood_policy=telegram.limits.flood_policy,
            new_topics_per_hour=telegram.limits.new_topics_per_hour,
        ),
        clock=clock,
        metrics=metrics,
        # Each person's pace lives in their session (``relay.pace``): no limiter write.
        pace=Pace(
            burst=max(1, int(telegram.limits.person_burst)),
            interval=telegram.limits.person_interval_seconds,
        ),
        greetings=DynamoFloodGate(store, burst=1, interval=GREETING_EVERY_SECONDS),
        broadcasts=broadcasts,
        widget=widget,
        push=push,
        commands=Registry(
            erase.commands(table, limits_table, gateway, sessions), resolve_role=roles.role_of
        ),
        new_topic_budget=store,
        waiting_line=DynamoWaitingLine(limits_table, table),
        buttons=gateway,
        challenges=DynamoChallengeStore(table) if settings.new_person_challenge else None,
        inbox=inbox if settings.inbox else None,
        cards=gateway,  # the contact card's "Take it" button (with the inbox)
    )
    loop = asyncio.new_event_loop()  # one per container: PTB's Application lives on it
    inbox_jobs = (  # nudges, the weekly digest, and the away message (issue 15)
        scheduled_work(
            settings.inbox_times,
            loop=loop,
            table=table,
            gateway=gateway,
            clock=clock,
            inbox=inbox,
            backlog=slot_backlog(store, gcra),  # a nudge takes only a slot nothing relayed wants
        )
        if settings.inbox
        else None
    )
    app = RelayApplication(bot=bot, relay=relay)
    loop.run_until_complete(app.initialize())
    worker = Worker(
        loop=loop,
        app=app,
        broadcasts=broadcasts,
        step_log=DynamoStepLog(table),
        inbox=InboxWork(loop, refresh, inbox_jobs),
        visitors=visitor_work(settings, loop=loop, relay=relay, step_log=DynamoStepLog(table)),
    )
    active = throttle or shared
    retries = RetrySchedule(SqsVisibility(sqs), telegram.limits.retry_base_seconds)
    return ConsumerRuntime(
        worker=worker,
        throttle=active if isinstance(active, SharedThrottle) else None,
        failures=FailurePolicy(
            worker=worker,
            journal=DynamoFailureJournal(table),
            dead_letters=SqsDeadLetterQueue(sqs, settings.dead_letter_queue_url),
            retries=retries,
            metrics=metrics,
            clock=clock,
            max_attempts=telegram.limits.max_attempts,
        ),
        retries=retries,
        metrics=metrics,
    )
