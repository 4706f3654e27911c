"""The contract between the product (functions/), its infrastructure (infra/), the operations
CLI (ops/), the embedded stage (local/), the benchmarks (bench/) and the tests.

Every fact that more than one of them needs is defined here once and imported everywhere
else: environment variable names, table key layouts, the update types Telegram is asked for,
stack output names, the default Bot API URL and greeting. A test fails when one of them is
spelled out anywhere else (``tests/unit/test_contract.py``).

Plain values only: this module imports nothing (the webhook's cold start reads it too).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Final

__all__ = [
    "ALLOWED_UPDATES",
    "DATA_TABLE",
    "DEFAULT_GREETING",
    "DEFAULT_TELEGRAM_API_URL",
    "IDEMPOTENCY_TABLE",
    "LIMITS_TABLE",
    "WIDGET_GROUP_PREFIX",
    "WIDGET_RECORD_KEY",
    "WIDGET_SESSION_SECONDS",
    "Env",
    "Output",
    "TableLayout",
]

DEFAULT_TELEGRAM_API_URL: Final = "https://api.telegram.org"
DEFAULT_GREETING: Final = (
    "Hello! Write your question here and our support team will answer in this chat."
)

# What setWebhook / getUpdates ask Telegram for (the deploy-time registration, the ops CLI and
# the local stage's long polling): only the update types Topicdesk handles (a type it would
# only drop costs a Lambda invocation and an SQS message per update).
ALLOWED_UPDATES: Final = ("message", "edited_message", "my_chat_member", "callback_query")

# The web widget's records on the updates FIFO queue (``topicdesk.domain.widget.WidgetRecord``):
# the body is ``{WIDGET_RECORD_KEY: {...}}`` and the MessageGroupId ``<prefix><session id>``.
WIDGET_RECORD_KEY: Final = "widget_message"
WIDGET_GROUP_PREFIX: Final = "widget:"
WIDGET_SESSION_SECONDS: Final = 30 * 24 * 3600
"""A widget session (and its token) lasts this long after its last message."""


class Env:
    """Environment variable names of the functions (names only, never secret values)."""

    # ruff: noqa: S105 (below: the *names* of variables and outputs, not secrets)

    STAGE: Final = "STAGE"
    UPDATES_QUEUE_URL: Final = "UPDATES_QUEUE_URL"
    DEAD_LETTER_QUEUE_URL: Final = "DEAD_LETTER_QUEUE_URL"
    DATA_TABLE: Final = "DATA_TABLE"
    LIMITS_TABLE: Final = "LIMITS_TABLE"
    IDEMPOTENCY_TABLE: Final = "IDEMPOTENCY_TABLE"
    BOT_TOKEN_SECRET_NAME: Final = "BOT_TOKEN_SECRET_NAME"
    WEBHOOK_SECRET_NAME: Final = "WEBHOOK_SECRET_NAME"
    TELEGRAM_API_URL: Final = "TELEGRAM_API_URL"
    OPERATOR_CHAT_IDS: Final = "OPERATOR_CHAT_IDS"
    ADMIN_USER_IDS: Final = "ADMIN_USER_IDS"
    BROADCAST_SELF_CONFIRM: Final = "BROADCAST_SELF_CONFIRM"
    GREETING: Final = "GREETING"
    WIDGET_CONNECTIONS_URL: Final = "WIDGET_CONNECTIONS_URL"
    """The WebSocket API's management endpoint (``https://<api>.execute-api.<region>.
    amazonaws.com/<stage>``): where the consumer pushes operators' answers to visitors."""
    WIDGET_PROJECTS: Final = "WIDGET_PROJECTS"
    """The stage's widget projects as JSON (cdk.json ``projects``): name, widgetKey,
    allowedOrigins, operatorChatIds."""
    WIDGET_TOKEN_SECRET_NAME: Final = "WIDGET_TOKEN_SECRET_NAME"
    MAX_ATTEMPTS: Final = "MAX_ATTEMPTS"
    RETRY_BASE_SECONDS: Final = "RETRY_BASE_SECONDS"
    LIMIT_BOT_PER_SECOND: Final = "LIMIT_BOT_PER_SECOND"
    LIMIT_CHAT_PER_SECOND: Final = "LIMIT_CHAT_PER_SECOND"
    LIMIT_GROUP_PER_MINUTE: Final = "LIMIT_GROUP_PER_MINUTE"
    LIMIT_MAX_WAIT_SECONDS: Final = "LIMIT_MAX_WAIT_SECONDS"
    LIMIT_COUNT_EACH_MESSAGE: Final = "LIMIT_COUNT_EACH_MESSAGE"
    LIMIT_PERSON_BURST: Final = "LIMIT_PERSON_BURST"
    LIMIT_PERSON_INTERVAL_SECONDS: Final = "LIMIT_PERSON_INTERVAL_SECONDS"
    FLOOD_POLICY: Final = "FLOOD_POLICY"
    LIMIT_NEW_TOPICS_PER_HOUR: Final = "LIMIT_NEW_TOPICS_PER_HOUR"
    NEW_PERSON_CHALLENGE: Final = "NEW_PERSON_CHALLENGE"
    INBOX: Final = "INBOX"
    BUSINESS_HOURS: Final = "BUSINESS_HOURS"
    """The stage's business hours as JSON (cdk.json ``businessHours``: timeZone, weekly,
    holidays); empty: always open."""
    SLA_MINUTES: Final = "SLA_MINUTES"
    """Business minutes a person's message may wait before operators are nudged."""
    AWAY_MESSAGE: Final = "AWAY_MESSAGE"
    SESSION_RETENTION_DAYS: Final = "SESSION_RETENTION_DAYS"


@dataclass(frozen=True)
class TableLayout:
    """A DynamoDB table's keys (all strings) and its TTL attribute."""

    partition_key: str
    ttl_attribute: str
    sort_key: str | None = None

    @property
    def keys(self) -> tuple[str, ...]:
        return (self.partition_key, self.sort_key) if self.sort_key else (self.partition_key,)


DATA_TABLE: Final = TableLayout(partition_key="pk", sort_key="sk", ttl_attribute="expires_at")
"""Sessions, topics, message map, failure journal, step records, dead letters, broadcasts."""
LIMITS_TABLE: Final = TableLayout(partition_key="pk", ttl_attribute="expires_at")
"""The shared flood limiter (GCRA TATs, holds, bookings, per-person buckets)."""
IDEMPOTENCY_TABLE: Final = TableLayout(partition_key="id", ttl_attribute="expiration")
"""Powertools idempotency (its default key and TTL attribute names)."""


class Output:
    """Stack output names (stable: the local stage and the ops CLI read them)."""

    WEBHOOK_URL: Final = "WebhookUrl"
    """The Function URL Telegram posts to (registered by the stack's custom resource)."""
    UPDATES_QUEUE_URL: Final = "UpdatesQueueUrl"
    DEAD_LETTER_QUEUE_URL: Final = "DeadLetterQueueUrl"
    PARKING_QUEUE_URL: Final = "ParkingQueueUrl"
    """Dead updates the DLQ processor failed on: alarmed; ``make ops ARGS='dlq unpark'``."""
    DATA_TABLE_NAME: Final = "DataTableName"
    LIMITS_TABLE_NAME: Final = "LimitsTableName"
    IDEMPOTENCY_TABLE_NAME: Final = "IdempotencyTableName"
    """Powertools idempotency: the widget edge's and visitors' records (updates keep theirs in
    their step record)."""
    BOT_TOKEN_SECRET_NAME: Final = "BotTokenSecretName"
    WEBHOOK_SECRET_NAME: Final = "WebhookSecretName"
    ALARM_TOPIC_ARN: Final = "AlarmTopicArn"
    """The SNS topic every alarm notifies (DLQ depth, parked updates, rejected requests, a
    stuck queue): subscribe on-call to it."""
    DASHBOARD_NAME: Final = "DashboardName"
    WEBHOOK_FUNCTION_NAME: Final = "WebhookFunctionName"
    CONSUMER_FUNCTION_NAME: Final = "ConsumerFunctionName"
    DLQ_PROCESSOR_FUNCTION_NAME: Final = "DlqProcessorFunctionName"
    WEBHOOK_REGISTRATION_STATUS: Final = "WebhookRegistrationStatus"
    """What the deploy's ``setWebhook`` did (a bot token not filled in yet says so here)."""
    WIDGET_URL: Final = "WidgetUrl"
    """The WebSocket API's URL (wss://...): the widget's ``data-url``."""
    WIDGET_API_ID: Final = "WidgetApiId"
    WIDGET_FUNCTION_NAME: Final = "WidgetFunctionName"
    WIDGET_TOKEN_SECRET_NAME: Final = "WidgetTokenSecretName"
