"""What every part of the relay shares: its ports, its settings and the bookkeeping helpers."""

from __future__ import annotations

import asyncio
import logging
import uuid
from collections import OrderedDict
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from functools import partial
from typing import TYPE_CHECKING

from topicdesk.contract import DEFAULT_GREETING
from topicdesk.domain.errors import StorageUnavailable
from topicdesk.domain.model import ChatMessage, MessageRef, Session
from topicdesk.domain.ports import Clock, MessageMap, Metrics, SessionRepository, TelegramGateway

if TYPE_CHECKING:
    from topicdesk.domain.inbox import Inbox

COPY_MESSAGES_LIMIT = 100  # copyMessages: 1-100 message ids
BOOKKEEPING_RETRY_DELAYS = (0.2, 0.5, 1.0, 2.0)
logger = logging.getLogger(__name__)


@dataclass(frozen=True)
class RelaySettings:
    operator_chat_ids: tuple[int, ...]
    greeting: str = DEFAULT_GREETING
    topic_claim_lease_seconds: float = 30.0
    delivered_reaction: str = "👍"
    owner_id: str = field(default_factory=lambda: uuid.uuid4().hex)
    """Identifies this worker's topic-creation claims."""
    flood_policy: str = "hold"
    """Over the per-person pace: ``hold`` (relay later, in order) or ``drop`` (count them)."""
    slowdown_notice_every: float = 600.0
    """A person is asked to slow down at most once in this many seconds."""
    new_topics_per_hour: int = 60
    """New people's topics per operators' group in any hour (``newcomers``)."""


RECENTLY_RELAYED = 2048
"""How many relayed messages a container remembers itself (see ``RelayContext.relayed``)."""


@dataclass(frozen=True)
class RelayContext:
    sessions: SessionRepository
    messages: MessageMap
    telegram: TelegramGateway
    settings: RelaySettings
    clock: Clock
    metrics: Metrics
    relayed: OrderedDict[MessageRef, None] = field(default_factory=OrderedDict)
    """Messages this container relayed lately. A follower that rode along in its head's
    copyMessages is usually handled by the same invocation right after: it finds itself
    here even when the message map's write failed (DynamoDB throttled past the retries),
    instead of being copied a second time."""
    inbox: Inbox | None = None
    """Each conversation's state and owner (``topicdesk.domain.inbox``); None: not kept."""

    def remember(self, message: ChatMessage) -> None:
        self.relayed[MessageRef(message.chat_id, message.message_id)] = None
        while len(self.relayed) > RECENTLY_RELAYED:
            self.relayed.popitem(last=False)

    def is_operator_chat(self, chat_id: int) -> bool:
        return chat_id in self.settings.operator_chat_ids

    def already_relayed(self, message: ChatMessage) -> bool:
        """Ask the message map unless this container remembers the message."""
        ref = MessageRef(message.chat_id, message.message_id)
        return ref in self.relayed or self.messages.peer(ref) is not None

    def relayed_from_person(self, message: ChatMessage, session: Session | None) -> bool:
        """Whether a person's private message was relayed (or otherwise handled) before,
        from their session as read for this record: the count's write marks the newest one
        (``Session.relayed_up_to``), so no message-map read. Without a topic it cannot have
        been; a session counted before that mark existed asks the message map."""
        if MessageRef(message.chat_id, message.message_id) in self.relayed:
            return True
        if session is None or not session.has_topic:
            return False
        known = handled_before(message.message_id, session.relayed_up_to, session.relayed_run)
        return self.already_relayed(message) if known is None else known

    def answered_from_topic(self, message: ChatMessage, session: Session) -> bool:
        """The same for a message in ``session``'s topic (``Session.answered_up_to``). A
        command past the mark, and any answer to a web widget visitor (``visitors``: not
        counted here), ask the message map: their links, not a count, mark them."""
        if MessageRef(message.chat_id, message.message_id) in self.relayed:
            return True
        mark = None if session.person.is_visitor else session.answered_up_to
        known = handled_before(message.message_id, mark, session.answered_run)
        if known is None or (known is False and message.command is not None):
            return self.already_relayed(message)
        return known

    def peer_id(self, chat_id: int, message_id: int | None) -> int | None:
        if message_id is None:
            return None
        peer = self.messages.peer(MessageRef(chat_id, message_id))
        return peer.message_id if peer else None

    async def after_send(self, write: Callable[[], object], *, required: bool = False) -> bool:
        """Bookkeeping after a message went out. The send cannot be undone, so failing the
        record now would only send it again on retry: retry the write briefly instead, then
        (unless ``required``) go on without it (a reply or edit may lose its threading).
        True when it was written."""
        for delay in BOOKKEEPING_RETRY_DELAYS:
            try:
                write()
                return True
            except StorageUnavailable as error:
                last = error
                await asyncio.sleep(delay)
        if required:
            raise last
        self.metrics.count("BookkeepingSkipped")
        logger.warning("bookkeeping after a send skipped: %s", last)
        return False

    async def link_all(
        self, sources: Sequence[ChatMessage], chat_id: int, ids: Sequence[int]
    ) -> bool:
        """Map each message to its copy in ``chat_id`` (bookkeeping after the send); True
        when every link was written."""
        written = True
        for message, copy_id in zip(sources, ids, strict=False):
            self.remember(message)
            written &= await self.after_send(
                partial(
                    self.messages.link,
                    MessageRef(message.chat_id, message.message_id),
                    MessageRef(chat_id, copy_id),
                )
            )
        return written


def advanced(mark: int | None, handled: Sequence[ChatMessage]) -> list[int] | None:
    """The run that moves the session's mark after ``handled`` (None: leave it): the mark
    only moves forward, so an older message (a replayed dead letter, an update Telegram
    delivered late) does not move it back."""
    ids = sorted(message.message_id for message in handled)
    return ids if mark is None or ids[-1] > mark else None


def handled_before(message_id: int, mark: int | None, run: Sequence[int]) -> bool | None:
    """Whether a message was handled, from its session's mark and run: True in the run, False
    above the mark, None below it and not in the run (ask the message map)."""
    if mark is None:
        return None
    if message_id in run or message_id == mark:
        return True
    return False if message_id > mark else None


def same_album(first: ChatMessage, second: ChatMessage) -> bool:
    return first.media_group_id is not None and first.media_group_id == second.media_group_id
