"""Settings from the Lambda environment (names and knobs, never secret values)."""

from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import dataclass

from topicdesk.contract import DEFAULT_GREETING, DEFAULT_TELEGRAM_API_URL, Env
from topicdesk.domain.inbox.hours import ALWAYS, BusinessHours, HoursError, hours_from_json
from topicdesk.domain.limiter import LimitSettings
from topicdesk.domain.widget_edge import EdgePace, WidgetProject

# The shared readers and the webhook's settings live in settings_base (which imports no domain
# module: the webhook's cold start); re-exported so every function finds its settings here.
from topicdesk.settings_base import SettingsError as SettingsError
from topicdesk.settings_base import WebhookSettings as WebhookSettings
from topicdesk.settings_base import environ as _environ
from topicdesk.settings_base import parse_chat_ids as parse_chat_ids
from topicdesk.settings_base import required as _required


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
    new_topics_per_hour: int = 60
    """New people's topics per operators' group in any hour; past it new people wait in line."""

    @classmethod
    def from_env(cls, env: Mapping[str, str]) -> Limits:
        policy = env.get(Env.FLOOD_POLICY, "hold").strip() or "hold"
        if policy not in ("hold", "drop"):
            raise SettingsError(f"{Env.FLOOD_POLICY}: {policy!r} is neither 'hold' nor 'drop'")
        return cls(
            bot_per_second=_float(env, Env.LIMIT_BOT_PER_SECOND, cls.bot_per_second),
            chat_per_second=_float(env, Env.LIMIT_CHAT_PER_SECOND, cls.chat_per_second),
            group_per_minute=_float(env, Env.LIMIT_GROUP_PER_MINUTE, cls.group_per_minute),
            person_burst=_float(env, Env.LIMIT_PERSON_BURST, cls.person_burst),
            person_interval_seconds=_float(
                env, Env.LIMIT_PERSON_INTERVAL_SECONDS, cls.person_interval_seconds
            ),
            flood_policy=policy,
            max_wait_seconds=_float(env, Env.LIMIT_MAX_WAIT_SECONDS, cls.max_wait_seconds),
            max_attempts=int(_float(env, Env.MAX_ATTEMPTS, cls.max_attempts)),
            retry_base_seconds=_float(env, Env.RETRY_BASE_SECONDS, cls.retry_base_seconds),
            count_each_message=_bool(env, Env.LIMIT_COUNT_EACH_MESSAGE, cls.count_each_message),
            new_topics_per_hour=max(
                1, round(_float(env, Env.LIMIT_NEW_TOPICS_PER_HOUR, cls.new_topics_per_hour))
            ),
        )

    def gcra(self) -> LimitSettings:
        return LimitSettings(
            bot_per_second=self.bot_per_second,
            chat_per_second=self.chat_per_second,
            group_per_minute=self.group_per_minute,
            max_wait=self.max_wait_seconds,
            count_each_message=self.count_each_message,
        )


def _ids(env: Mapping[str, str], name: str) -> tuple[int, ...]:
    """An optional comma-separated list of user ids."""
    ids: list[int] = []
    for part in env.get(name, "").split(","):
        if not part.strip():
            continue
        try:
            ids.append(int(part))
        except ValueError:
            raise SettingsError(f"{name}: {part.strip()!r} is not a user id") from None
    return tuple(ids)


def _api_url(env: Mapping[str, str]) -> str:
    return (env.get(Env.TELEGRAM_API_URL, "").strip() or DEFAULT_TELEGRAM_API_URL).rstrip("/")


def _https_url(env: Mapping[str, str], name: str, *, required: bool) -> str | None:
    """An endpoint URL (http only for the local stage's emulated API Gateway)."""
    raw = env.get(name, "").strip().rstrip("/")
    if not raw:
        if required:
            raise SettingsError(f"environment variable {name} is not set")
        return None
    if not raw.startswith(("https://", "http://")):
        raise SettingsError(f"{name}: {raw!r} is not an http(s) URL")
    return raw


@dataclass(frozen=True)
class TelegramSettings:
    """What a function that writes to Telegram needs: where, as whom, within which limits."""

    api_url: str
    bot_token_secret_name: str
    operator_chat_ids: tuple[int, ...]
    limits_table: str
    limits: Limits

    @classmethod
    def from_env(cls, env: Mapping[str, str]) -> TelegramSettings:
        return cls(
            api_url=_api_url(env),
            bot_token_secret_name=_required(env, Env.BOT_TOKEN_SECRET_NAME),
            operator_chat_ids=parse_chat_ids(_required(env, Env.OPERATOR_CHAT_IDS)),
            limits_table=_required(env, Env.LIMITS_TABLE),
            limits=Limits.from_env(env),
        )


@dataclass(frozen=True)
class InboxTimes:
    """The inbox's clock (issue 15): business hours, the nudges' SLA, the away message."""

    hours: BusinessHours = ALWAYS
    sla_minutes: float = 15.0
    away_message: str = ""
    """Empty: the default text (``topicdesk.domain.inbox.away``)."""

    @classmethod
    def from_env(cls, env: Mapping[str, str]) -> InboxTimes:
        try:
            hours = hours_from_json(env.get(Env.BUSINESS_HOURS, ""))
        except HoursError as error:
            raise SettingsError(f"{Env.BUSINESS_HOURS}: {error}") from None
        sla = _float(env, Env.SLA_MINUTES, cls.sla_minutes)
        return cls(hours, sla, env.get(Env.AWAY_MESSAGE, "").strip())


@dataclass(frozen=True)
class InboxScheduleSettings:
    """The inbox's scheduled function: the nudge sweep and the weekly stats digest."""

    times: InboxTimes
    operator_chat_ids: tuple[int, ...]
    data_table: str
    updates_queue_url: str

    @classmethod
    def from_env(cls, env: Mapping[str, str] | None = None) -> InboxScheduleSettings:
        """Checked at cold start: a missing name or malformed hours stop the function."""
        env = _environ(env)
        table, queue = _required(env, Env.DATA_TABLE), _required(env, Env.UPDATES_QUEUE_URL)
        chats = parse_chat_ids(_required(env, Env.OPERATOR_CHAT_IDS))
        return cls(InboxTimes.from_env(env), chats, table, queue)


@dataclass(frozen=True)
class ConsumerSettings:
    telegram: TelegramSettings
    updates_queue_url: str
    """Broadcast jobs are queued here."""
    dead_letter_queue_url: str
    data_table: str
    idempotency_table: str
    greeting: str
    widget_connections_url: str | None = None
    """The WebSocket API's management endpoint; set (by the stack) exactly when the stage has
    widget projects. None: no widget, and a widget record fails into the DLQ."""
    admin_user_ids: tuple[int, ...] = ()
    """Admins besides the operators' groups' Telegram administrators (the stage's list)."""
    new_person_challenge: bool = False
    """A new person answers a question (inline keyboard) before they get a topic."""
    inbox: bool = False
    """Each conversation's state and owner on its topic, and the queue overview (issue 15)."""
    broadcast_self_confirm: bool = False
    """The admin who asks for a broadcast may confirm it alone (else a second admin must,
    when the group has two or more)."""
    session_retention_days: int = 365
    """A session (and what belongs to it) expires after this many days without activity."""
    inbox_times: InboxTimes = InboxTimes()
    """Business hours (the away message, the nudges' clock) and the SLA (issue 15)."""

    @classmethod
    def from_env(cls, env: Mapping[str, str] | None = None) -> ConsumerSettings:
        """Every setting the consumer needs, checked at cold start: a missing one stops the
        function with one clear error instead of silently turning a feature off."""
        env = _environ(env)
        return cls(
            telegram=TelegramSettings.from_env(env),
            updates_queue_url=_required(env, Env.UPDATES_QUEUE_URL),
            dead_letter_queue_url=_required(env, Env.DEAD_LETTER_QUEUE_URL),
            data_table=_required(env, Env.DATA_TABLE),
            idempotency_table=_required(env, Env.IDEMPOTENCY_TABLE),
            greeting=env.get(Env.GREETING, "").strip() or DEFAULT_GREETING,
            # Required when the stage has widget projects: their answers go out through it.
            widget_connections_url=_https_url(
                env, Env.WIDGET_CONNECTIONS_URL, required=bool(env.get(Env.WIDGET_PROJECTS))
            ),
            admin_user_ids=_ids(env, Env.ADMIN_USER_IDS),
            new_person_challenge=_bool(env, Env.NEW_PERSON_CHALLENGE, False),
            inbox=_bool(env, Env.INBOX, False),
            broadcast_self_confirm=_bool(env, Env.BROADCAST_SELF_CONFIRM, False),
            session_retention_days=max(
                1, round(_float(env, Env.SESSION_RETENTION_DAYS, cls.session_retention_days))
            ),
            inbox_times=InboxTimes.from_env(env),
        )


@dataclass(frozen=True)
class DeadLetterSettings:
    telegram: TelegramSettings
    data_table: str

    @classmethod
    def from_env(cls, env: Mapping[str, str] | None = None) -> DeadLetterSettings:
        env = _environ(env)
        return cls(
            telegram=TelegramSettings.from_env(env), data_table=_required(env, Env.DATA_TABLE)
        )


def parse_widget_projects(raw: str) -> tuple[WidgetProject, ...]:
    """``WIDGET_PROJECTS``: the stage's projects as JSON (infra/config.py validated them; a
    malformed value stops the function at cold start)."""
    try:
        parsed = json.loads(raw)
    except ValueError:
        raise SettingsError(f"{Env.WIDGET_PROJECTS} is not JSON") from None
    if not isinstance(parsed, list) or not parsed:
        raise SettingsError(f"{Env.WIDGET_PROJECTS} names no project")
    projects: list[WidgetProject] = []
    for item in parsed:
        try:
            projects.append(
                WidgetProject(
                    name=str(item["name"]),
                    key=str(item["widgetKey"]),
                    allowed_origins=frozenset(str(o) for o in item["allowedOrigins"]),
                    operator_chat_ids=tuple(int(c) for c in item["operatorChatIds"]),
                )
            )
        except (KeyError, TypeError, ValueError):
            raise SettingsError(f"{Env.WIDGET_PROJECTS}: malformed project {item!r}") from None
    return tuple(projects)


@dataclass(frozen=True)
class WidgetEdgeSettings:
    projects: tuple[WidgetProject, ...]
    updates_queue_url: str
    data_table: str
    limits_table: str
    token_secret_name: str
    connections_url: str
    """The WebSocket API's management endpoint (the flooding client's close)."""
    pace: EdgePace

    @classmethod
    def from_env(cls, env: Mapping[str, str] | None = None) -> WidgetEdgeSettings:
        env = _environ(env)
        limits = Limits.from_env(env)
        connections_url = str(_https_url(env, Env.WIDGET_CONNECTIONS_URL, required=True))
        return cls(
            projects=parse_widget_projects(_required(env, Env.WIDGET_PROJECTS)),
            updates_queue_url=_required(env, Env.UPDATES_QUEUE_URL),
            data_table=_required(env, Env.DATA_TABLE),
            limits_table=_required(env, Env.LIMITS_TABLE),
            token_secret_name=_required(env, Env.WIDGET_TOKEN_SECRET_NAME),
            connections_url=connections_url,
            pace=EdgePace(
                session_burst=max(1, int(limits.person_burst)),
                session_interval=limits.person_interval_seconds,
                group_per_minute=limits.group_per_minute,
            ),
        )
