"""Settings from the Lambda environment (names and knobs, never secret values)."""

from __future__ import annotations

import os
from collections.abc import Mapping
from dataclasses import dataclass

from topicdesk.domain import texts
from topicdesk.domain.limiter import LimitSettings

DEFAULT_TELEGRAM_API_URL = "https://api.telegram.org"


class SettingsError(ValueError):
    """A required environment variable is missing or malformed."""


def parse_chat_ids(raw: str) -> tuple[int, ...]:
    ids: list[int] = []
    for part in raw.split(","):
        part = part.strip()
        if not part:
            continue
        try:
            ids.append(int(part))
        except ValueError:
            raise SettingsError(f"OPERATOR_CHAT_IDS: {part!r} is not a chat id") from None
    if not ids:
        raise SettingsError("OPERATOR_CHAT_IDS names no chat")
    return tuple(ids)


def _float(env: Mapping[str, str], name: str, default: float) -> float:
    raw = env.get(name, "").strip()
    if not raw:
        return default
    try:
        value = float(raw)
    except ValueError:
        raise SettingsError(f"{name}: {raw!r} is not a number") from None
    if value <= 0:
        raise SettingsError(f"{name}: must be positive")
    return value


def _bool(env: Mapping[str, str], name: str, default: bool) -> bool:
    raw = env.get(name, "").strip().lower()
    if not raw:
        return default
    if raw not in ("true", "false"):
        raise SettingsError(f"{name}: {raw!r} is neither 'true' nor 'false'")
    return raw == "true"


@dataclass(frozen=True)
class Limits:
    """Telegram's documented limits less a safety margin (documented: 30/s, 1/s, 20/min)."""

    bot_per_second: float = 28.0
    chat_per_second: float = 0.95
    group_per_minute: float = 19.0
    person_burst: float = 8.0
    person_interval_seconds: float = 8.0
    flood_policy: str = "hold"
    max_wait_seconds: float = 3.5
    max_attempts: int = 5
    """Genuine failures (not rate-limit deferrals) before an update goes to the DLQ."""
    retry_base_seconds: float = 5.0
    """First backoff after a genuine failure; doubles per receive, capped at 5 minutes."""
    count_each_message: bool = True
    """Each message of a call and each topic creation spends a unit of the group's budget."""

    @classmethod
    def from_env(cls, env: Mapping[str, str]) -> Limits:
        policy = env.get("FLOOD_POLICY", "hold").strip() or "hold"
        if policy not in ("hold", "drop"):
            raise SettingsError(f"FLOOD_POLICY: {policy!r} is neither 'hold' nor 'drop'")
        return cls(
            bot_per_second=_float(env, "LIMIT_BOT_PER_SECOND", cls.bot_per_second),
            chat_per_second=_float(env, "LIMIT_CHAT_PER_SECOND", cls.chat_per_second),
            group_per_minute=_float(env, "LIMIT_GROUP_PER_MINUTE", cls.group_per_minute),
            person_burst=_float(env, "LIMIT_PERSON_BURST", cls.person_burst),
            person_interval_seconds=_float(
                env, "LIMIT_PERSON_INTERVAL_SECONDS", cls.person_interval_seconds
            ),
            flood_policy=policy,
            max_wait_seconds=_float(env, "LIMIT_MAX_WAIT_SECONDS", cls.max_wait_seconds),
            max_attempts=int(_float(env, "MAX_ATTEMPTS", cls.max_attempts)),
            retry_base_seconds=_float(env, "RETRY_BASE_SECONDS", cls.retry_base_seconds),
            count_each_message=_bool(env, "LIMIT_COUNT_EACH_MESSAGE", cls.count_each_message),
        )

    def gcra(self) -> LimitSettings:
        return LimitSettings(
            bot_per_second=self.bot_per_second,
            chat_per_second=self.chat_per_second,
            group_per_minute=self.group_per_minute,
            max_wait=self.max_wait_seconds,
            count_each_message=self.count_each_message,
        )


@dataclass(frozen=True)
class Settings:
    stage: str
    telegram_api_url: str
    bot_token_secret_name: str
    webhook_secret_name: str
    updates_queue_url: str
    dead_letter_queue_url: str
    data_table: str
    limits_table: str
    idempotency_table: str
    operator_chat_ids: tuple[int, ...]
    greeting: str
    limits: Limits

    @classmethod
    def from_env(cls, env: Mapping[str, str] | None = None) -> Settings:
        """Reads what is set; each handler then asks for what it needs with ``need``."""
        env = os.environ if env is None else env
        raw_chats = env.get("OPERATOR_CHAT_IDS", "").strip()
        return cls(
            stage=env.get("STAGE", "dev"),
            telegram_api_url=(
                env.get("TELEGRAM_API_URL", "").strip() or DEFAULT_TELEGRAM_API_URL
            ).rstrip("/"),
            bot_token_secret_name=env.get("BOT_TOKEN_SECRET_NAME", "").strip(),
            webhook_secret_name=env.get("WEBHOOK_SECRET_NAME", "").strip(),
            updates_queue_url=env.get("UPDATES_QUEUE_URL", "").strip(),
            dead_letter_queue_url=env.get("DEAD_LETTER_QUEUE_URL", "").strip(),
            data_table=env.get("DATA_TABLE", "").strip(),
            limits_table=env.get("LIMITS_TABLE", "").strip(),
            idempotency_table=env.get("IDEMPOTENCY_TABLE", "").strip(),
            operator_chat_ids=parse_chat_ids(raw_chats) if raw_chats else (),
            greeting=env.get("GREETING", "").strip() or texts.DEFAULT_GREETING,
            limits=Limits.from_env(env),
        )

    def need(self, *names: str) -> None:
        """Fail fast, naming the first missing setting, at cold start rather than mid-batch."""
        env_names = {
            "bot_token_secret_name": "BOT_TOKEN_SECRET_NAME",
            "webhook_secret_name": "WEBHOOK_SECRET_NAME",
            "updates_queue_url": "UPDATES_QUEUE_URL",
            "dead_letter_queue_url": "DEAD_LETTER_QUEUE_URL",
            "data_table": "DATA_TABLE",
            "limits_table": "LIMITS_TABLE",
            "idempotency_table": "IDEMPOTENCY_TABLE",
            "operator_chat_ids": "OPERATOR_CHAT_IDS",
        }
        for name in names:
            if not getattr(self, name):
                raise SettingsError(f"environment variable {env_names[name]} is not set")
