"""Each function's settings, checked at cold start: a missing variable is one clear error."""

from __future__ import annotations

import pytest
from topicdesk.contract import DEFAULT_GREETING, DEFAULT_TELEGRAM_API_URL, Env
from topicdesk.settings import (
    ConsumerSettings,
    DeadLetterSettings,
    SettingsError,
    WebhookSettings,
)

CONSUMER_ENV = {
    Env.BOT_TOKEN_SECRET_NAME: "topicdesk/test/bot-token",
    Env.OPERATOR_CHAT_IDS: "-1001, -1002",
    Env.LIMITS_TABLE: "limits",
    Env.UPDATES_QUEUE_URL: "https://sqs/updates.fifo",
    Env.DEAD_LETTER_QUEUE_URL: "https://sqs/dead-letters.fifo",
    Env.DATA_TABLE: "data",
    Env.IDEMPOTENCY_TABLE: "idempotency",
}


def test_the_consumer_reads_everything_it_needs_with_defaults() -> None:
    settings = ConsumerSettings.from_env(CONSUMER_ENV)
    assert settings.telegram.operator_chat_ids == (-1001, -1002)
    assert settings.telegram.api_url == DEFAULT_TELEGRAM_API_URL
    assert settings.greeting == DEFAULT_GREETING
    assert settings.telegram.limits.count_each_message is True
    assert settings.telegram.limits.max_attempts == 5


@pytest.mark.parametrize("missing", sorted(CONSUMER_ENV))
def test_a_missing_consumer_variable_stops_the_cold_start_naming_it(missing: str) -> None:
    """Not silently turning the limiter (LIMITS_TABLE) or broadcasts (UPDATES_QUEUE_URL) off."""
    env = {k: v for k, v in CONSUMER_ENV.items() if k != missing}
    with pytest.raises(SettingsError, match=f"environment variable {missing} is not set"):
        ConsumerSettings.from_env(env)


def test_the_dlq_processor_needs_the_shared_limiter_too() -> None:
    env = {k: v for k, v in CONSUMER_ENV.items() if k != Env.LIMITS_TABLE}
    with pytest.raises(SettingsError, match=Env.LIMITS_TABLE):
        DeadLetterSettings.from_env(env)
    assert DeadLetterSettings.from_env(CONSUMER_ENV).data_table == "data"


def test_the_webhook_needs_its_queue_secret_and_served_chats() -> None:
    env = {
        Env.UPDATES_QUEUE_URL: "https://sqs/u.fifo",
        Env.WEBHOOK_SECRET_NAME: "s",
        Env.OPERATOR_CHAT_IDS: "-1001",
    }
    settings = WebhookSettings.from_env(env)
    assert settings.webhook_secret_name == "s" and settings.operator_chat_ids == (-1001,)
    for missing in (Env.WEBHOOK_SECRET_NAME, Env.OPERATOR_CHAT_IDS):
        with pytest.raises(SettingsError, match=missing):
            WebhookSettings.from_env({k: v for k, v in env.items() if k != missing})


@pytest.mark.parametrize(
    ("name", "value", "message"),
    [
        (Env.OPERATOR_CHAT_IDS, "-100x", "is not a chat id"),
        (Env.FLOOD_POLICY, "maybe", "neither 'hold' nor 'drop'"),
        (Env.LIMIT_COUNT_EACH_MESSAGE, "yes", "neither 'true' nor 'false'"),
        (Env.LIMIT_GROUP_PER_MINUTE, "-3", "must be positive"),
    ],
)
def test_malformed_values_are_named(name: str, value: str, message: str) -> None:
    with pytest.raises(SettingsError, match=message):
        ConsumerSettings.from_env({**CONSUMER_ENV, name: value})
