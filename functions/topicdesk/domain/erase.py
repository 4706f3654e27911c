"""Erasing a person on request (``/forget`` in their topic, or ``ops sessions erase``).

Everything stored about the person goes: their session, roster entry and topic index, their
message maps, the inbox's record of their conversation, dead letters that carry their updates
(with the failure journal and step records of each), the shared limiter's keys about them,
anything else in their partition (a new person's question, say); and their forum topic is
deleted. What was there is counted per kind and reported.

The order makes it resumable and idempotent: the topic first (while the session still says
which it is), then what hangs off the person, then the anchors (session, topic index) last,
since they are what leads a retry back to the person. A second erase finds nothing and says
so; parts that are already gone are simply not counted. Each part is a step of the caller's
record (``Steps``), so a retried ``/forget`` neither deletes twice nor reports twice.
"""

from __future__ import annotations

import json
from collections.abc import Awaitable, Callable, Collection, Mapping
from dataclasses import dataclass, field
from typing import Any, Protocol

from topicdesk.domain import texts
from topicdesk.domain.errors import RecipientBlocked, RejectedByTelegram, TopicMissing
from topicdesk.domain.model import DeadLetter
from topicdesk.domain.ports import PersonData
from topicdesk.domain.steps import Steps

KINDS = (
    "session",
    "roster",
    "topic_index",
    "message_links",
    "dead_letters",
    "inbox",
    "limiter_keys",
    "other",
)
"""What is counted, in report order (``other``: anything else in the person's partition)."""

TOPIC_DELETED = "deleted"
TOPIC_GONE = "already gone"
TOPIC_NONE = "none"
TOPIC_REFUSED = "not deleted"


class TopicDeleter(Protocol):
    """The one Bot API call erasing needs (``TelegramGateway.delete_topic``)."""

    async def delete_topic(self, chat_id: int, thread_id: int) -> None: ...


@dataclass(frozen=True)
class Erasure:
    """What one erase removed."""

    user_id: int
    removed: Mapping[str, int] = field(default_factory=dict)
    topic: str = TOPIC_NONE
    """``deleted``, ``already gone``, ``none`` (no topic), or ``not deleted: <why>``."""

    @property
    def total(self) -> int:
        return sum(self.removed.values())

    @property
    def nothing_left(self) -> bool:
        """Nothing was there to erase (a second erase)."""
        return self.total == 0 and self.topic != TOPIC_DELETED

    def counts(self) -> list[tuple[str, int]]:
        """Every kind with what was removed, in report order."""
        known = [(kind, int(self.removed.get(kind, 0))) for kind in KINDS]
        extra = [(k, int(v)) for k, v in sorted(self.removed.items()) if k not in KINDS]
        return known + extra

    def report(self, by: str = "") -> str:
        return texts.erasure_report(
            self.user_id, self.counts(), self.topic, nothing=self.nothing_left, by=by
        )


def concerns(dead: DeadLetter, user_id: int, topics: Collection[tuple[int, int]]) -> bool:
    """Whether a dead letter carries the person's data: their own update (or a broadcast's
    share for them), or an operator's message in one of their topics."""
    if dead.chat_id == user_id:
        return True
    try:
        body = json.loads(dead.body)
    except (ValueError, RecursionError):
        return False
    if not isinstance(body, dict):
        return False
    if body.get("user_id") == user_id:  # a broadcast job's body
        return True
    return any(
        _mentions(value, user_id, topics) for value in body.values() if isinstance(value, dict)
    )


def _mentions(message: dict[str, Any], user_id: int, topics: Collection[tuple[int, int]]) -> bool:
    sender, chat = message.get("from"), message.get("chat")
    if isinstance(sender, dict) and sender.get("id") == user_id:
        return True
    if not isinstance(chat, dict):
        return False
    return chat.get("id") == user_id or (chat.get("id"), message.get("message_thread_id")) in topics


def _merge(*parts: Mapping[str, int]) -> dict[str, int]:
    total: dict[str, int] = {}
    for part in parts:
        for kind, count in part.items():
            total[kind] = total.get(kind, 0) + int(count)
    return total


class PersonEraser:
    def __init__(self, *, data: PersonData, telegram: TopicDeleter) -> None:
        self._data = data
        self._telegram = telegram

    async def erase(
        self,
        user_id: int,
        steps: Steps | None = None,
        *,
        before_anchors: Callable[[Erasure], Awaitable[None]] | None = None,
    ) -> Erasure:
        """Erase the person; ``before_anchors`` runs with the full report just before the
        session goes (``/forget`` posts it then, while a retry can still find the person).
        Flood limits, Telegram outages and storage failures propagate: run it again (or the
        record comes back) and it resumes."""
        steps = steps or Steps()

        async def topics_step() -> list[list[int]]:
            return [[chat, thread] for chat, thread in self._data.topics_of(user_id)]

        topics = [(int(c), int(t)) for c, t in await steps.once("erase-topics", topics_step)]
        outcome = await steps.once("erase-topic", lambda: self._delete_topics(topics))

        async def belongings() -> list[list[Any]]:
            found = [d for d in self._data.dead_letters() if concerns(d, user_id, topics)]
            for dead in found:
                self._data.erase_dead_letter(dead)
            removed = _merge(self._data.erase_belongings(user_id), {"dead_letters": len(found)})
            return [[kind, count] for kind, count in removed.items()]

        async def anchors() -> list[list[Any]]:
            return [[kind, count] for kind, count in self._data.anchors(user_id).items()]

        removed = _merge(
            {str(k): int(v) for k, v in await steps.once("erase-belongings", belongings)},
            {str(k): int(v) for k, v in await steps.once("erase-anchors", anchors)},
        )
        erasure = Erasure(user_id, removed, outcome)
        if before_anchors is not None:
            await before_anchors(erasure)
        self._data.erase_anchors(user_id)  # idempotent: done again by a retry
        return erasure

    async def _delete_topics(self, topics: list[tuple[int, int]]) -> str:
        outcome = TOPIC_NONE
        for chat_id, thread_id in topics:
            try:
                await self._telegram.delete_topic(chat_id, thread_id)
            except TopicMissing:
                outcome = TOPIC_GONE if outcome == TOPIC_NONE else outcome
                continue
            except (RejectedByTelegram, RecipientBlocked) as error:
                # The bot may not delete it (no "delete messages" right, or it left the
                # group): the data still goes; the report says to delete the topic by hand.
                return f"{TOPIC_REFUSED}: {error}"
            outcome = TOPIC_DELETED
        return outcome
