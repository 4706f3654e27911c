"""Erasing people and letting sessions expire: the consumer's ``/forget`` and the ops CLI's
``sessions erase`` share this wiring; the session store and message map take the stage's
retention (``SESSION_RETENTION_DAYS``)."""

from __future__ import annotations

from typing import Any

from topicdesk.adapters.dynamodb import DynamoMessageMap, DynamoSessionRepository
from topicdesk.adapters.dynamodb.erasure import DynamoPersonData
from topicdesk.adapters.dynamodb.messages import MESSAGE_MAP_TTL_SECONDS
from topicdesk.domain.commands import COMMANDS, Command
from topicdesk.domain.commands.forget import forget_command
from topicdesk.domain.dead_letters import OpsChannel
from topicdesk.domain.erase import PersonEraser, TopicDeleter
from topicdesk.domain.ports import SessionRepository, TelegramGateway
from topicdesk.settings import ConsumerSettings

DAY_SECONDS = 86400


def session_store(settings: ConsumerSettings, table: Any) -> DynamoSessionRepository:
    return DynamoSessionRepository(table, settings.session_retention_days * DAY_SECONDS)


def message_map(settings: ConsumerSettings, table: Any) -> DynamoMessageMap:
    """Links expire after 30 days, or with the session when the stage keeps sessions less."""
    retention = settings.session_retention_days * DAY_SECONDS
    return DynamoMessageMap(table, min(MESSAGE_MAP_TTL_SECONDS, retention))


def person_eraser(table: Any, limits_table: Any, telegram: TopicDeleter) -> PersonEraser:
    return PersonEraser(data=DynamoPersonData(table, limits_table), telegram=telegram)


def commands(
    table: Any, limits_table: Any, telegram: TelegramGateway, sessions: SessionRepository
) -> tuple[Command, ...]:
    """The topic commands, with /forget (its report goes to the group's ops topic)."""

    async def post_to_ops(chat_id: int, text: str) -> int:
        return await OpsChannel(sessions, telegram, chat_id).post(text)

    eraser = person_eraser(table, limits_table, telegram)
    return (*COMMANDS, forget_command(eraser, post_to_ops))
