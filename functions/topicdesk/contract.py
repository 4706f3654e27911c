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
from typing import ClassVar, Final, TypeVar

_T = TypeVar("_T")

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


def _named_by_their_names(cls: type[_T]) -> type[_T]:
    """Each name ``cls`` declares becomes its own value, so a name and its value cannot drift
    apart (``Env.STAGE == "STAGE"``)."""
    for name in cls.__annotations__:
        setattr(cls, name, name)
    return cls


@_named_by_their_names
class Env:
    """Environment variable names of the functions (names only, never secret values): each
    constant's value is its own name, spelled once."""

    # ruff: noqa: S105 (below: the *names* of variables and outputs, not secrets)

    STAGE: ClassVar[str]
    UPDATES_QUEUE_URL: ClassVar[str]
    DEAD_LETTER_QUEUE_URL: ClassVar[str]
    DATA_TABLE: ClassVar[str]
    LIMITS_TABLE: ClassVar[str]
    IDEMPOTENCY_TABLE: ClassVar[str]
    BOT_TOKEN_SECRET_NAME: ClassVar[str]
    WEBHOOK_SECRET_NAME: ClassVar[str]
    TELEGRAM_API_URL: ClassVar[str]
    OPERATOR_CHAT_IDS: ClassVar[str]
    ADMIN_USER_IDS: ClassVar[str]
    BROADCAST_SELF_CONFIRM: ClassVar[str]
    GREETING: ClassVar[str]
    WIDGET_CONNECTIONS_URL: ClassVar[str]
    """The WebSocket API's management endpoint (``https://<api>.execute-api.<region>.
    amazonaws.com/<stage>``): where the consumer pushes operators' answers to visitors."""
    WIDGET_PROJECTS: ClassVar[str]
    """The stage's widget projects as JSON (cdk.json ``projects``): name, widgetKey,
    allowedOrigins, operatorChatIds."""
    WIDGET_TOKEN_SECRET_NAME: ClassVar[str]
    MAX_ATTEMPTS: ClassVar[str]
    RETRY_BASE_SECONDS: ClassVar[str]
    LIMIT_BOT_PER_SECOND: ClassVar[str]
    LIMIT_CHAT_PER_SECOND: ClassVar[str]
    LIMIT_GROUP_PER_MINUTE: ClassVar[str]
    LIMIT_MAX_WAIT_SECONDS: ClassVar[str]
    LIMIT_COUNT_EACH_MESSAGE: ClassVar[str]
    LIMIT_PERSON_BURST: ClassVar[str]
    LIMIT_PERSON_INTERVAL_SECONDS: ClassVar[str]
    FLOOD_POLICY: ClassVar[str]
    LIMIT_NEW_TOPICS_PER_HOUR: ClassVar[str]
    NEW_PERSON_CHALLENGE: ClassVar[str]
    INBOX: ClassVar[str]
    BUSINESS_HOURS: ClassVar[str]
    """The stage's business hours as JSON (cdk.json ``businessHours``: timeZone, weekly,
    holidays); empty: always open."""
    SLA_MINUTES: ClassVar[str]
    """Business minutes a person's message may wait before operators are nudged."""
    AWAY_MESSAGE: ClassVar[str]
    SESSION_RETENTION_DAYS: ClassVar[str]


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
"""The shared flood limiter (GCRA TATs and holds - the groups' on the bot's item -, bookings,
the greeting gate). A person's pace is in their session, on the data table."""
IDEMPOTENCY_TABLE: Final = TableLayout(partition_key="id", ttl_attribute="expiration")
"""Powertools idempotency (its default key and TTL attribute names)."""


class Output:
    """Stack output names (stable: the local stage and the ops CLI read them). The less obvious:
    ``ParkingQueueUrl``, dead updates the DLQ processor failed on (alarmed; ``make ops
    ARGS='dlq unpark'``); ``IdempotencyTableName``, Powertools idempotency for the widget
    edge's and visitors' records (updates keep theirs in their step record);
    ``AlarmTopicArn``, the SNS topic every alarm notifies (subscribe on-call to it);
    ``WebhookRegistrationStatus``, what the deploy's ``setWebhook`` did (a bot token not
    filled in yet says so here); ``WidgetUrl``, the WebSocket API's wss:// URL (the
    widget's ``data-url``)."""

    WEBHOOK_URL: Final = "WebhookUrl"
    UPDATES_QUEUE_URL: Final = "UpdatesQueueUrl"
    DEAD_LETTER_QUEUE_URL: Final = "DeadLetterQueueUrl"
    PARKING_QUEUE_URL: Final = "ParkingQueueUrl"
    DATA_TABLE_NAME: Final = "DataTableName"
    LIMITS_TABLE_NAME: Final = "LimitsTableName"
    IDEMPOTENCY_TABLE_NAME: Final = "IdempotencyTableName"
    BOT_TOKEN_SECRET_NAME: Final = "BotTokenSecretName"
    WEBHOOK_SECRET_NAME: Final = "WebhookSecretName"
    ALARM_TOPIC_ARN: Final = "AlarmTopicArn"
    DASHBOARD_NAME: Final = "DashboardName"
    WEBHOOK_FUNCTION_NAME: Final = "WebhookFunctionName"
    CONSUMER_FUNCTION_NAME: Final = "ConsumerFunctionName"
    DLQ_PROCESSOR_FUNCTION_NAME: Final = "DlqProcessorFunctionName"
    WEBHOOK_REGISTRATION_STATUS: Final = "WebhookRegistrationStatus"
    WIDGET_URL: Final = "WidgetUrl"
    WIDGET_API_ID: Final = "WidgetApiId"
    WIDGET_FUNCTION_NAME: Final = "WidgetFunctionName"
    WIDGET_TOKEN_SECRET_NAME: Final = "WidgetTokenSecretName"
