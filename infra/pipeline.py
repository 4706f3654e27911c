"""Updates queue (FIFO) -> consumer; dead-letter queue (FIFO) -> DLQ processor."""

from __future__ import annotations

import aws_cdk as cdk
from aws_cdk import aws_lambda_event_sources as event_sources
from aws_cdk import aws_sqs as sqs
from constructs import Construct
from topicdesk.contract import Env

from infra.config import StageConfig
from infra.definitions import (
    CONSUMER,
    DEAD_LETTER_QUEUE,
    DLQ_MAX_RECEIVES,
    DLQ_PROCESSOR,
    PARKING_QUEUE,
    UPDATES_QUEUE,
    QueueSpec,
)
from infra.functions import FunctionProps, TopicdeskFunction, env_list, removal_policy
from infra.schedules import inbox_clock_env

BATCH_SIZE = 10

# maxReceiveCount (cdk.json `maxReceiveCount`, 1000: SQS's maximum) is a backstop, not the
# retry budget. Every receive counts, not only failures: a deferred record, and every later
# record of its conversation handed back with it, is a receive, and a person's long flood
# held at their pace is received once per turn. So the consumer counts genuine failures
# itself and moves an update to the DLQ after MAX_ATTEMPTS of them, and for records received
# more than 10 times it also counts attempts the function died with (crash, timeout):
# docs/architecture.md, "Receive counts". SQS's redrive only acts when that journal cannot be
# written. The config parser enforces maxReceiveCount >= 2 x maxAttempts.


def _number(value: float) -> str:
    return f"{value:g}"


def _flag(value: bool) -> str:
    return "true" if value else "false"


def _fifo_queue(
    scope: Construct,
    config: StageConfig,
    spec: QueueSpec,
    dead_letter_queue: sqs.DeadLetterQueue | None = None,
) -> sqs.Queue:
    """A FIFO queue as infra/definitions.py describes it: SQS-managed SSE, TLS-only access,
    no content-based dedup (the webhook sets MessageDeduplicationId = update_id),
    high-throughput mode (dedup and throughput per message group = per chat)."""
    return sqs.Queue(
        scope,
        spec.construct_id,
        queue_name=config.fifo_name(spec.suffix),
        fifo=True,
        content_based_deduplication=False,
        deduplication_scope=sqs.DeduplicationScope.MESSAGE_GROUP,
        fifo_throughput_limit=sqs.FifoThroughputLimit.PER_MESSAGE_GROUP_ID,
        encryption=sqs.QueueEncryption.SQS_MANAGED,
        enforce_ssl=True,
        retention_period=cdk.Duration.seconds(spec.retention_seconds),
        visibility_timeout=cdk.Duration.seconds(spec.visibility_seconds),
        dead_letter_queue=dead_letter_queue,
        removal_policy=removal_policy(config),
    )


def _consume(function: TopicdeskFunction, queue: sqs.Queue, max_concurrency: int) -> None:
    """``function`` takes ``queue``'s records in batches and reports the failed ones.
    The grant: ReceiveMessage, DeleteMessage, ChangeMessageVisibility, GetQueueAttributes/Url."""
    queue.grant_consume_messages(function.function)
    function.function.add_event_source(
        event_sources.SqsEventSource(
            queue,
            batch_size=BATCH_SIZE,
            report_batch_item_failures=True,
            max_concurrency=max_concurrency,
        )
    )


class Pipeline(Construct):
    def __init__(self, scope: Construct, construct_id: str, props: FunctionProps) -> None:
        super().__init__(scope, construct_id)
        config, storage, secrets = props.config, props.storage, props.secrets
        self.parking_queue = _fifo_queue(self, config, PARKING_QUEUE)
        # What the DLQ processor cannot handle (archive down, a bug) is not dropped when the
        # DLQ's retention ends: it is parked, alarmed, and on-call replays it.
        self.dead_letter_queue = _fifo_queue(
            self,
            config,
            DEAD_LETTER_QUEUE,
            dead_letter_queue=sqs.DeadLetterQueue(
                queue=self.parking_queue, max_receive_count=DLQ_MAX_RECEIVES
            ),
        )
        self.updates_queue = _fifo_queue(
            self,
            config,
            UPDATES_QUEUE,
            dead_letter_queue=sqs.DeadLetterQueue(
                queue=self.dead_letter_queue, max_receive_count=config.max_receive_count
            ),
        )

        telegram_env = {
            Env.BOT_TOKEN_SECRET_NAME: secrets.bot_token_name,
            Env.TELEGRAM_API_URL: config.telegram_api_url,
            Env.OPERATOR_CHAT_IDS: env_list(config.operator_chat_ids),
        }
        limits = config.limits
        # Every function that writes to Telegram spends the one shared flood limiter.
        limiter_env = {
            Env.LIMITS_TABLE: storage.limits_table.table_name,
            Env.LIMIT_BOT_PER_SECOND: _number(limits.bot_per_second),
            Env.LIMIT_CHAT_PER_SECOND: _number(limits.chat_per_second),
            Env.LIMIT_GROUP_PER_MINUTE: str(limits.group_per_minute),
            Env.LIMIT_MAX_WAIT_SECONDS: _number(limits.max_wait_seconds),
            Env.LIMIT_COUNT_EACH_MESSAGE: _flag(limits.count_each_message),
        }
        consumer_env = {
            **telegram_env,
            # Broadcast jobs go onto the updates queue (one per person, in their group).
            Env.UPDATES_QUEUE_URL: self.updates_queue.queue_url,
            # The consumer dead-letters an update itself after MAX_ATTEMPTS failures.
            Env.DEAD_LETTER_QUEUE_URL: self.dead_letter_queue.queue_url,
            Env.MAX_ATTEMPTS: str(limits.max_attempts),
            Env.RETRY_BASE_SECONDS: str(limits.retry_base_seconds),
            Env.DATA_TABLE: storage.data_table.table_name,
            Env.IDEMPOTENCY_TABLE: storage.idempotency_table.table_name,
            Env.GREETING: config.greeting,
            # Admin-only commands: the groups' Telegram administrators and these people.
            Env.ADMIN_USER_IDS: env_list(config.admin_user_ids),
            # Sessions expire (DynamoDB TTL) after this many days without activity.
            Env.SESSION_RETENTION_DAYS: str(config.session_retention_days),
            # Off: a broadcast's requester cannot confirm it when the group has 2+ admins.
            Env.BROADCAST_SELF_CONFIRM: _flag(config.broadcast_self_confirm),
            **limiter_env,
            Env.LIMIT_PERSON_BURST: str(limits.person_burst),
            Env.LIMIT_PERSON_INTERVAL_SECONDS: str(limits.person_interval_seconds),
            Env.FLOOD_POLICY: limits.flood_policy,
            # The new-people guard: the cap, and the question before a topic (or none).
            Env.LIMIT_NEW_TOPICS_PER_HOUR: str(limits.new_topics_per_hour),
            Env.NEW_PERSON_CHALLENGE: _flag(config.new_person_challenge),
            # Each conversation's state and owner, and the Queue topic's overview (issue 15).
            Env.INBOX: _flag(config.inbox),
            # Business hours (the away message, the nudges' clock), the SLA (issue 15).
            **inbox_clock_env(config),
        }
        self.consumer = TopicdeskFunction(self, props, CONSUMER, consumer_env)
        _consume(self.consumer, self.updates_queue, config.consumer_max_concurrency)
        # SendMessage: /broadcast queues one job per person in that person's message group.
        self.updates_queue.grant_send_messages(self.consumer.function)
        # SendMessage (+ GetQueueAttributes/Url) on the DLQ: the consumer-managed failure budget.
        self.dead_letter_queue.grant_send_messages(self.consumer.function)
        storage.data_table.grant_read_write_data(self.consumer.function)
        storage.limits_table.grant_read_write_data(self.consumer.function)
        storage.idempotency_table.grant_read_write_data(self.consumer.function)
        secrets.bot_token.grant_read(self.consumer.function)

        dlq_processor_env = {
            **telegram_env,
            # Informational only (where a replay would go); replay is the ops CLI's job
            # and this function has no permission to send to the updates queue.
            Env.UPDATES_QUEUE_URL: self.updates_queue.queue_url,
            Env.DATA_TABLE: storage.data_table.table_name,
            # Its notices and alerts are paced like every other send (and honour 429s).
            **limiter_env,
        }
        self.dlq_processor = TopicdeskFunction(self, props, DLQ_PROCESSOR, dlq_processor_env)
        # The minimum concurrency: dead letters are rare and each one messages Telegram.
        _consume(self.dlq_processor, self.dead_letter_queue, 2)
        storage.data_table.grant_read_write_data(self.dlq_processor.function)
        storage.limits_table.grant_read_write_data(self.dlq_processor.function)
        secrets.bot_token.grant_read(self.dlq_processor.function)
