"""Per-stage settings: parsed from the `topicdesk` object in cdk.json's context.

cdk.json holds `topicdesk.defaults` (every optional setting; `greeting` and
`telegramApiUrl` fall back to the product's defaults in topicdesk.contract) and
`topicdesk.stages.<name>` (what differs per stage, plus the required values).
The stage is chosen with `-c stage=NAME`. A top-level context value with the
same name as a setting (`-c alarmEmail=...`) overrides the stage's value, which
is how tests and one-off deploys change a single setting.

Anything wrong stops synth with one line that names the stage, the setting and
what was expected (`ConfigError`).
"""

from __future__ import annotations

import dataclasses
import json
import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any, TypeVar

from topicdesk.contract import DEFAULT_GREETING, DEFAULT_TELEGRAM_API_URL
from topicdesk.domain.inbox.hours import HoursError, parse_hours

from infra.widget_config import WidgetProjectConfig, parse_projects

PROJECT = "topicdesk"
CONTEXT_KEY = "topicdesk"

# CloudWatch Logs accepts only these retention periods (days).
LOG_RETENTION_DAYS = (
    1,
    3,
    5,
    7,
    14,
    30,
    60,
    90,
    120,
    150,
    180,
    365,
    400,
    545,
    731,
    1096,
    1827,
    2192,
    2557,
    2922,
    3288,
    3653,
)

# Forum supergroups (and channels) have ids of the form -100XXXXXXXXXX.
_SUPERGROUP_ID = re.compile(r"^-100\d{7,13}$")
_STAGE_NAME = re.compile(r"^[a-z][a-z0-9-]{0,19}$")
_EMAIL = re.compile(r"^[^@\s]+@[^@\s]+\.[^@\s]+$")
_FLOOD_POLICIES = ("hold", "drop")

T = TypeVar("T")
N = TypeVar("N", int, float)


class ConfigError(ValueError):
    """A stage's configuration is unusable; the message is one line for the operator."""


@dataclass(frozen=True)
class Limits:
    """Telegram's limits with a safety margin, and the per-person flood bucket."""

    bot_per_second: float
    chat_per_second: float
    group_per_minute: int
    person_burst: int
    person_interval_seconds: int
    flood_policy: str
    max_wait_seconds: float
    max_attempts: int
    retry_base_seconds: int
    count_each_message: bool
    new_topics_per_hour: int = 60
    """New people's topics per operators' group in any hour (cdk.json limits.newTopicsPerHour)."""


@dataclass(frozen=True)
class StageConfig:
    stage: str
    operator_chat_ids: tuple[int, ...]
    admin_user_ids: tuple[int, ...]
    """Admins besides the operators' groups' Telegram administrators (cdk.json adminUserIds)."""
    broadcast_self_confirm: bool
    """The admin who asks for a broadcast may confirm it alone (cdk.json broadcastSelfConfirm;
    default false: a second admin confirms when the group has two or more)."""
    alarm_email: str
    log_retention_days: int
    log_level: str
    consumer_max_concurrency: int
    webhook_reserved_concurrency: int
    webhook_max_connections: int
    oldest_message_alarm_seconds: int
    max_receive_count: int
    greeting: str
    telegram_api_url: str
    limits: Limits
    protect_data: bool
    register_webhook: bool
    assets_bucket: str | None
    webhook_registration_revision: str
    projects: tuple[WidgetProjectConfig, ...] = ()
    """The web widget's projects (cdk.json ``projects``; none: no WebSocket API)."""
    session_retention_days: int = 365
    """Days without activity after which a session expires (DynamoDB TTL)."""
    new_person_challenge: bool = False
    """A new person answers an inline-keyboard question before their topic (newPersonChallenge)."""
    inbox: bool = True
    """Each conversation's state, owner and the queue overview in the operators' group (inbox)."""
    business_hours: str = ""
    """The stage's business hours (businessHours: timeZone, weekly, holidays) as checked JSON;
    empty: always open (no away message; the SLA counts every minute)."""
    sla_minutes: int = 15
    """Business minutes a person's message waits before operators are nudged (slaMinutes)."""
    away_message: str = ""
    """What a person is told outside business hours (awayMessage; empty: the default text)."""

    @property
    def prefix(self) -> str:
        """Every physical name starts with this, e.g. `topicdesk-dev`."""
        return f"{PROJECT}-{self.stage}"

    @property
    def stack_name(self) -> str:
        return self.prefix

    @property
    def metrics_namespace(self) -> str:
        return f"Topicdesk/{self.stage}"

    def name(self, suffix: str) -> str:
        """Physical name of a resource: `topicdesk-<stage>-<suffix>`."""
        return f"{self.prefix}-{suffix}"

    def fifo_name(self, suffix: str) -> str:
        return f"{self.prefix}-{suffix}.fifo"

    def secret_name(self, suffix: str) -> str:
        return f"{PROJECT}/{self.stage}/{suffix}"

    @staticmethod
    def service_name(function: str) -> str:
        """Powertools service name, also the `service` metric dimension."""
        return f"{PROJECT}-{function}"


# --------------------------------------------------------------------------- parsing


def load_stage_config(context: Callable[[str], Any]) -> StageConfig:
    """Build the stage's config from context lookups (`app.node.try_get_context`)."""
    stage = context("stage")
    root = context(CONTEXT_KEY)
    if not isinstance(root, Mapping):
        raise ConfigError(f"cdk.json context has no '{CONTEXT_KEY}' object with the stages")
    stages = root.get("stages")
    if not isinstance(stages, Mapping) or not stages:
        raise ConfigError(f"cdk.json context '{CONTEXT_KEY}.stages' is missing or empty")
    known = ", ".join(sorted(stages))
    if stage is None or stage == "":
        raise ConfigError(f"no stage given: pass -c stage=NAME (one of: {known})")
    if not isinstance(stage, str) or stage not in stages:
        raise ConfigError(f"unknown stage {stage!r}: cdk.json defines {known}")
    defaults = root.get("defaults", {})
    if not isinstance(defaults, Mapping):
        raise ConfigError(f"cdk.json context '{CONTEXT_KEY}.defaults' must be an object")
    own = stages[stage]
    if not isinstance(own, Mapping):
        raise ConfigError(f"stage {stage!r}: its settings in cdk.json must be an object")
    merged: dict[str, Any] = {**defaults, **own}
    for key in _OVERRIDABLE:
        override = context(key)
        if override is not None:
            merged[key] = override
    return parse_stage_config(stage, merged)


_OVERRIDABLE = (
    "operatorChatIds",
    "adminUserIds",
    "broadcastSelfConfirm",
    "alarmEmail",
    "logRetentionDays",
    "logLevel",
    "consumerMaxConcurrency",
    "webhookReservedConcurrency",
    "webhookMaxConnections",
    "oldestMessageAlarmSeconds",
    "maxReceiveCount",
    "greeting",
    "telegramApiUrl",
    "registerWebhook",
    "webhookRegistrationRevision",
    "projects",
    "sessionRetentionDays",
    "newPersonChallenge",
    "inbox",
    "businessHours",
    "slaMinutes",
    "awayMessage",
)


def parse_stage_config(stage: str, raw: Mapping[str, Any]) -> StageConfig:
    """Validate one stage's merged settings (defaults + stage + overrides)."""
    if not _STAGE_NAME.match(stage):
        raise ConfigError(
            f"stage name {stage!r} must be lower-case letters, digits and '-' (max 20), "
            "since it goes into every resource name"
        )
    where = f"stage {stage!r}"
    reader = _Reader(where, raw)
    limits_raw = reader.required("limits", _mapping)
    limits_reader = _Reader(f"{where}: limits", limits_raw)
    limits = Limits(
        bot_per_second=limits_reader.required("botPerSecond", _positive_number),
        chat_per_second=limits_reader.required("chatPerSecond", _positive_number),
        group_per_minute=limits_reader.required("groupPerMinute", _between(1, 20)),
        person_burst=limits_reader.required("personBurst", _between(1, 1000)),
        person_interval_seconds=limits_reader.required("personIntervalSeconds", _between(1, 86400)),
        flood_policy=limits_reader.required("floodPolicy", _one_of(_FLOOD_POLICIES)),
        # Longer waits are deferred (ChangeMessageVisibility), shorter ones slept: must stay
        # well inside the consumer's 30 s timeout.
        max_wait_seconds=limits_reader.required(
            "maxWaitSeconds", _between(0.1, 10, _positive_number)
        ),
        max_attempts=limits_reader.required("maxAttempts", _between(1, 100)),
        # First backoff after a genuine failure (doubling, capped by the consumer at 300 s).
        retry_base_seconds=limits_reader.required("retryBaseSeconds", _between(1, 300)),
        # Each message of copyMessages/sendMediaGroup and each createForumTopic spends the
        # group's 20/min (Telegram does not say how they count; false relaxes it).
        count_each_message=limits_reader.required("countEachMessage", _boolean),
        # Past it new people wait in line (held, never lost); a topic spends the group's budget,
        # so more than the group's messages an hour would only lengthen the line elsewhere.
        new_topics_per_hour=limits_reader.optional("newTopicsPerHour", _between(1, 20 * 60)) or 60,
    )
    # The consumer moves an update to the DLQ itself after maxAttempts genuine failures;
    # SQS's redrive (maxReceiveCount) is the backstop for crash loops, and rate-limit
    # deferrals also count as receives, so it must sit well above maxAttempts.
    max_receive_count = reader.required("maxReceiveCount", _between(5, 1000))
    if max_receive_count < 2 * limits.max_attempts:
        raise ConfigError(
            f"{where}: 'maxReceiveCount' ({max_receive_count}) must be at least twice "
            f"'limits.maxAttempts' ({limits.max_attempts}): SQS's redrive is only the backstop"
        )
    assets_bucket = reader.optional("assetsBucket", _bucket_name)
    config = StageConfig(
        stage=stage,
        operator_chat_ids=reader.required("operatorChatIds", _chat_ids),
        admin_user_ids=reader.optional("adminUserIds", _user_ids) or (),
        broadcast_self_confirm=reader.optional("broadcastSelfConfirm", _boolean) or False,
        alarm_email=reader.required("alarmEmail", _email),
        log_retention_days=reader.required("logRetentionDays", _retention_days),
        log_level=reader.required("logLevel", _one_of(("DEBUG", "INFO", "WARNING", "ERROR"))),
        # Lambda's MaximumConcurrency for SQS event sources is 2..1000.
        consumer_max_concurrency=reader.required("consumerMaxConcurrency", _between(2, 1000)),
        webhook_reserved_concurrency=reader.required(
            "webhookReservedConcurrency", _between(1, 1000)
        ),
        # Telegram's setWebhook max_connections is 1..100.
        webhook_max_connections=reader.required("webhookMaxConnections", _between(1, 100)),
        oldest_message_alarm_seconds=reader.required(
            "oldestMessageAlarmSeconds", _between(60, 14 * 86400)
        ),
        max_receive_count=max_receive_count,
        # Without a setting, the product's own defaults (topicdesk.contract).
        greeting=reader.optional("greeting", _non_empty_text) or DEFAULT_GREETING,
        telegram_api_url=(reader.optional("telegramApiUrl", _http_url) or DEFAULT_TELEGRAM_API_URL),
        limits=limits,
        protect_data=reader.required("protectData", _boolean),
        register_webhook=reader.required("registerWebhook", _boolean),
        assets_bucket=assets_bucket,
        webhook_registration_revision=reader.optional("webhookRegistrationRevision", _text) or "1",
        # A person's data is kept this long after their last message (up to ten years).
        session_retention_days=reader.optional("sessionRetentionDays", _between(1, 3650)) or 365,
        new_person_challenge=reader.optional("newPersonChallenge", _boolean) or False,
        inbox=reader.optional("inbox", _boolean) in (None, True),  # on unless turned off
        business_hours=reader.optional("businessHours", _business_hours) or "",
        sla_minutes=reader.optional("slaMinutes", _between(1, 7 * 24 * 60)) or 15,
        away_message=reader.optional("awayMessage", _non_empty_text) or "",
    )
    config = _with_projects(where, config, raw.get("projects"))
    _check_webhook_settings(where, config)  # after each value was checked on its own
    return config


class _Reader:
    def __init__(self, where: str, raw: Mapping[str, Any]) -> None:
        self._where = where
        self._raw = raw

    def required(self, key: str, parse: Callable[[str, Any], T]) -> T:
        if key not in self._raw or self._raw[key] is None or self._raw[key] == "":
            raise ConfigError(f"{self._where}: missing required setting '{key}' in cdk.json")
        return parse(f"{self._where}: '{key}'", self._raw[key])

    def optional(self, key: str, parse: Callable[[str, Any], T]) -> T | None:
        if key not in self._raw or self._raw[key] is None or self._raw[key] == "":
            return None
        return parse(f"{self._where}: '{key}'", self._raw[key])


def _as_int(what: str, value: Any) -> int:
    # `-c key=value` always arrives as a string; cdk.json values are JSON numbers.
    if isinstance(value, bool):
        raise ConfigError(f"{what} must be an integer, got {value!r}")
    if isinstance(value, int):
        return value
    if isinstance(value, str) and re.fullmatch(r"-?\d+", value.strip()):
        return int(value.strip())
    raise ConfigError(f"{what} must be an integer, got {value!r}")


def _between(low: N, high: N, read: Callable[[str, Any], N] = _as_int) -> Callable[[str, Any], N]:
    """``read`` (an integer unless told), then checked against the bounds."""

    def parse(what: str, value: Any) -> N:
        number = read(what, value)
        if not low <= number <= high:
            shown = "g" if isinstance(number, float) else ""  # 0.1 and 10, not 10.0
            raise ConfigError(
                f"{what} must be between {low:{shown}} and {high:{shown}}, got {number:{shown}}"
            )
        return number

    return parse


def _positive_number(what: str, value: Any) -> float:
    if isinstance(value, bool):
        raise ConfigError(f"{what} must be a positive number, got {value!r}")
    try:
        number = float(value)
    except (TypeError, ValueError):
        raise ConfigError(f"{what} must be a positive number, got {value!r}") from None
    if not number > 0:
        raise ConfigError(f"{what} must be a positive number, got {value!r}")
    return number


def _retention_days(what: str, value: Any) -> int:
    days = _as_int(what, value)
    if days not in LOG_RETENTION_DAYS:
        allowed = ", ".join(str(d) for d in LOG_RETENTION_DAYS)
        raise ConfigError(f"{what} must be one of CloudWatch's periods ({allowed}), got {days}")
    return days


def _check_webhook_settings(where: str, config: StageConfig) -> None:
    """Settings that are each valid but wrong together, or wrong outside the local stage."""
    connections, reserved = config.webhook_max_connections, config.webhook_reserved_concurrency
    if config.register_webhook and connections > reserved:
        raise ConfigError(
            f"{where}: 'webhookMaxConnections' ({connections}) must not exceed "
            f"'webhookReservedConcurrency' ({reserved}): Telegram would open more "
            "connections than the webhook may run at once, and Lambda would throttle them"
        )
    url = config.telegram_api_url
    if config.stage != "local" and url.startswith("http://"):
        raise ConfigError(
            f"{where}: 'telegramApiUrl' must be https outside the local stage (the bot token "
            f"travels in every request's URL), got {url!r}"
        )


def _user_ids(what: str, value: Any) -> tuple[int, ...]:
    items = value if isinstance(value, list) else str(value).split(",")
    ids: list[int] = []
    for index, item in enumerate(items):
        text = str(item).strip() if not isinstance(item, bool) else ""
        if not text.isdigit():
            raise ConfigError(f"{what}[{index}] = {item!r} is not a Telegram user id")
        ids.append(int(text))
    return tuple(ids)


def _chat_ids(what: str, value: Any) -> tuple[int, ...]:
    items: list[Any]
    if isinstance(value, list):
        items = value
    elif isinstance(value, str):
        items = [part.strip() for part in value.split(",")]
    else:
        items = [value]
    if not items:
        raise ConfigError(f"{what} must list at least one forum supergroup id")
    ids: list[int] = []
    for index, item in enumerate(items):
        text = str(item).strip() if not isinstance(item, bool) else ""
        if not _SUPERGROUP_ID.match(text):
            raise ConfigError(
                f"{what}[{index}] = {item!r} is not a forum supergroup id "
                "(a negative integer starting with -100, e.g. -1001234567890)"
            )
        ids.append(int(text))
    if len(set(ids)) != len(ids):
        raise ConfigError(f"{what} lists the same chat twice: {ids}")
    return tuple(ids)


def _email(what: str, value: Any) -> str:
    if not isinstance(value, str) or not _EMAIL.match(value):
        raise ConfigError(f"{what} must be an e-mail address, got {value!r}")
    return value


def _one_of(choices: tuple[str, ...]) -> Callable[[str, Any], str]:
    def parse(what: str, value: Any) -> str:
        if value not in choices:
            raise ConfigError(f"{what} must be one of {', '.join(choices)}, got {value!r}")
        return str(value)

    return parse


def _boolean(what: str, value: Any) -> bool:
    if isinstance(value, bool):
        return value
    if isinstance(value, str) and value.lower() in ("true", "false"):
        return value.lower() == "true"
    raise ConfigError(f"{what} must be true or false, got {value!r}")


def _text(what: str, value: Any) -> str:
    if isinstance(value, bool) or not isinstance(value, str | int):
        raise ConfigError(f"{what} must be a string, got {value!r}")
    return str(value)


def _non_empty_text(what: str, value: Any) -> str:
    if not isinstance(value, str) or not value.strip():
        raise ConfigError(f"{what} must be non-empty text, got {value!r}")
    if len(value) > 4096:
        raise ConfigError(f"{what} is longer than Telegram's 4096 characters")
    return value


def _http_url(what: str, value: Any) -> str:
    if not isinstance(value, str) or not re.match(r"^https?://[^\s/]+(/[^\s]*)?$", value):
        raise ConfigError(f"{what} must be an http(s) URL, got {value!r}")
    return value.rstrip("/")


def _bucket_name(what: str, value: Any) -> str:
    if not isinstance(value, str) or not re.match(r"^[a-z0-9][a-z0-9.-]{1,61}[a-z0-9]$", value):
        raise ConfigError(f"{what} must be an S3 bucket name, got {value!r}")
    return value


def _business_hours(what: str, value: Any) -> str:
    """Checked as the functions read them (``topicdesk.domain.inbox.hours``), passed as JSON."""
    try:
        parse_hours(_mapping(what, value))
    except HoursError as error:
        raise ConfigError(f"{what}: {error}") from None
    return json.dumps(value, sort_keys=True, separators=(",", ":"))


def _mapping(what: str, value: Any) -> Mapping[str, Any]:
    if not isinstance(value, Mapping):
        raise ConfigError(f"{what} must be an object, got {value!r}")
    return value


def _with_projects(where: str, config: StageConfig, value: Any) -> StageConfig:
    try:
        projects = parse_projects(
            where, value, stage=config.stage, operator_chat_ids=config.operator_chat_ids
        )
    except ValueError as error:
        raise ConfigError(str(error)) from None
    return dataclasses.replace(config, projects=projects)
