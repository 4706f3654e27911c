"""python-telegram-bot behind the domain's TelegramGateway port.

Telegram's errors become domain errors here and nowhere else. Transient failures (network,
timeouts, 5xx) are retried in-process with growing backoff before they surface; a 429 is
reported to the shared throttle (so every instance backs off) and surfaces as RateLimited so
the consumer can defer the record by exactly ``retry_after``.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass
from datetime import timedelta
from typing import TypeVar, Unpack

from telegram import (
    Bot,
    InlineKeyboardButton,
    InlineKeyboardMarkup,
    Message,
    MessageId,
    ReactionTypeEmoji,
    ReplyParameters,
)
from telegram.error import (
    BadRequest,
    Forbidden,
    InvalidToken,
    NetworkError,
    RetryAfter,
    TelegramError,
)
from telegram.error import (
    ChatMigrated as TgChatMigrated,
)

from topicdesk.domain.errors import (
    ChatMigrated,
    MessageGone,
    NotCopyable,
    NotModified,
    RateLimited,
    RecipientBlocked,
    RejectedByTelegram,
    TopicClosed,
    TopicMissing,
    TransientFailure,
    Unauthorized,
)
from topicdesk.domain.limiter import Spend
from topicdesk.domain.ports import InTopic, Metrics, Placement, Throttle

logger = logging.getLogger(__name__)
T = TypeVar("T")
UNAUTHORIZED = "Telegram rejected the bot token (401): put the current one in its secret"


class NoThrottle:
    async def before_send(self, chat_id: int, count: int = 1, kind: Spend = "message") -> None:
        return None

    def penalize(self, chat_id: int, retry_after: float, kind: Spend = "message") -> None:
        return None


@dataclass(frozen=True)
class RetryPolicy:
    """In-process retries for transient failures: 0.5 s, 1 s, 2 s ... then give up."""

    attempts: int = 3
    first_delay: float = 0.5
    factor: float = 2.0

    def delays(self) -> list[float]:
        return [self.first_delay * self.factor**i for i in range(self.attempts - 1)]


_TOPIC_MISSING = ("message thread not found", "topic_deleted", "thread not found")
_NOT_COPYABLE = ("can't be copied", "message can't be forwarded", "cannot be copied")
_GONE = (
    "message to copy not found",
    "message to edit not found",
    "message to forward not found",
    "message to react not found",
    "message_id_invalid",
    "messages to copy not found",
    "message not found",
)


def translate(error: TelegramError) -> Exception:
    """Telegram's error -> the domain's error."""
    if isinstance(error, RetryAfter):
        delay = error.retry_after
        seconds = delay.total_seconds() if isinstance(delay, timedelta) else float(delay)
        return RateLimited(seconds)
    if isinstance(error, TgChatMigrated):
        return ChatMigrated(int(error.new_chat_id))
    if isinstance(error, Forbidden):
        return RecipientBlocked(error.message)
    if isinstance(error, BadRequest):
        text = error.message.lower()
        if any(marker in text for marker in _TOPIC_MISSING):
            return TopicMissing(error.message)
        if "topic_closed" in text:
            return TopicClosed(error.message)
        if any(marker in text for marker in _NOT_COPYABLE):
            return NotCopyable(error.message)
        if "not modified" in text or "topic_not_modified" in text:
            return NotModified(error.message)
        if any(marker in text for marker in _GONE):
            return MessageGone(error.message)
        return RejectedByTelegram(error.message, code=400)
    if isinstance(error, NetworkError):  # timeouts, connection errors, 5xx
        return TransientFailure(error.message)
    return RejectedByTelegram(error.message)


def _error_metric(error: Exception) -> str:
    if isinstance(error, RateLimited):
        return "TelegramError429"
    if isinstance(error, RecipientBlocked):
        return "TelegramError403"
    if isinstance(error, TransientFailure):
        return "TelegramError5xx"
    return "TelegramError400"


class PtbTelegramGateway:
    def __init__(
        self,
        bot: Bot,
        *,
        throttle: Throttle | None = None,
        retry: RetryPolicy | None = None,
        metrics: Metrics | None = None,
        sleep: Callable[[float], Awaitable[None]] = asyncio.sleep,
        rebuild: Callable[[], Awaitable[Bot]] | None = None,
    ) -> None:
        """``rebuild``: a Bot with the token read afresh, for when Telegram answers 401 (the
        token was rotated): tried once, then the call fails as ``Unauthorized``."""
        self._bot = bot
        self._rebuild = rebuild
        self._throttle = throttle or NoThrottle()
        self._retry = retry or RetryPolicy()
        self._metrics = metrics
        self._sleep = sleep

    async def _call(
        self,
        call: Callable[[], Awaitable[T]],
        *,
        chat_id: int,
        sends: int = 0,
        kind: Spend = "message",
    ) -> T:
        """One Bot API call: throttle (for sends), retry transient failures, translate."""
        delays = self._retry.delays()
        rebuilt = False
        while True:
            if sends:
                await self._throttle.before_send(chat_id, sends, kind)
            try:
                return await call()
            except InvalidToken:
                if self._metrics is not None:
                    self._metrics.count("TelegramError401")
                if self._rebuild is None or rebuilt:
                    raise Unauthorized(UNAUTHORIZED) from None  # its text carries the token
                logger.warning("Telegram refused the bot token: reading it again")
                self._bot, rebuilt = await self._rebuild(), True
            except TelegramError as error:
                translated = translate(error)
                if self._metrics is not None:
                    self._metrics.count(_error_metric(translated))
                if isinstance(translated, RateLimited):
                    self._throttle.penalize(chat_id, translated.retry_after, kind)
                if isinstance(translated, TransientFailure) and delays:
                    delay = delays.pop(0)
                    logger.warning("Telegram failed, retry in %.1fs: %s", delay, error)
                    await self._sleep(delay)
                    continue
                raise translated from error

    @staticmethod
    def _reply(reply_to: int | None) -> ReplyParameters | None:
        if reply_to is None:
            return None
        # A deleted reply target must not cost the message itself.
        return ReplyParameters(message_id=reply_to, allow_sending_without_reply=True)

    async def send_text(self, chat_id: int, text: str, **where: Unpack[Placement]) -> int:
        return await self._one_message("send_message", (chat_id, text), where)

    async def copy_message(
        self, chat_id: int, from_chat_id: int, message_id: int, **where: Unpack[Placement]
    ) -> int:
        return await self._one_message("copy_message", (chat_id, from_chat_id, message_id), where)

    async def _one_message(self, method: str, args: tuple[int | str, ...], where: Placement) -> int:
        """A call that sends one message (into a topic, as a reply) to ``args[0]``: its id.
        The method is looked up on the Bot at call time (a rotated token rebuilds the Bot)."""
        thread_id, reply_to = where.get("thread_id"), where.get("reply_to")

        def send() -> Awaitable[Message | MessageId]:
            bound: Callable[..., Awaitable[Message | MessageId]] = getattr(self._bot, method)
            return bound(*args, message_thread_id=thread_id, reply_parameters=self._reply(reply_to))

        sent = await self._call(send, chat_id=int(args[0]), sends=1)
        return sent.message_id

    async def copy_messages(
        self, chat_id: int, from_chat_id: int, message_ids: Sequence[int], **where: Unpack[InTopic]
    ) -> list[int]:
        thread_id = where.get("thread_id")
        copied = await self._call(
            lambda: self._bot.copy_messages(
                chat_id, from_chat_id, list(message_ids), message_thread_id=thread_id
            ),
            chat_id=chat_id,
            sends=len(message_ids),
        )
        return [item.message_id for item in copied]

    async def send_buttons(
        self, chat_id: int, text: str, buttons: Sequence[tuple[str, str]]
    ) -> int:
        """A message with one row of inline buttons: (label, callback data) each."""
        keyboard = InlineKeyboardMarkup(
            [[InlineKeyboardButton(label, callback_data=data) for label, data in buttons]]
        )
        sent = await self._call(
            lambda: self._bot.send_message(chat_id, text, reply_markup=keyboard),
            chat_id=chat_id,
            sends=1,
        )
        return sent.message_id

    async def answer_callback(self, query_id: str, text: str | None = None) -> None:
        """Not a message (no flood budget spent): the person's app stops its spinner."""
        await self._call(lambda: self._bot.answer_callback_query(query_id, text=text), chat_id=0)

    async def edit_text(self, chat_id: int, message_id: int, text: str) -> None:
        await self._call(
            lambda: self._bot.edit_message_text(text, chat_id=chat_id, message_id=message_id),
            chat_id=chat_id,
        )

    async def edit_caption(self, chat_id: int, message_id: int, caption: str) -> None:
        await self._call(
            lambda: self._bot.edit_message_caption(
                chat_id=chat_id, message_id=message_id, caption=caption
            ),
            chat_id=chat_id,
        )

    async def react(self, chat_id: int, message_id: int, emoji: str) -> None:
        await self._call(
            lambda: self._bot.set_message_reaction(
                chat_id, message_id, reaction=[ReactionTypeEmoji(emoji)]
            ),
            chat_id=chat_id,
        )

    async def create_topic(self, chat_id: int, name: str) -> int:
        topic = await self._call(
            lambda: self._bot.create_forum_topic(chat_id, name),
            chat_id=chat_id,
            sends=1,
            kind="topic",  # not a message: its own bucket (topicdesk.domain.limiter)
        )
        return topic.message_thread_id

    async def close_topic(self, chat_id: int, thread_id: int) -> None:
        await self._call(lambda: self._bot.close_forum_topic(chat_id, thread_id), chat_id=chat_id)

    async def reopen_topic(self, chat_id: int, thread_id: int) -> None:
        await self._call(lambda: self._bot.reopen_forum_topic(chat_id, thread_id), chat_id=chat_id)

    async def delete_topic(self, chat_id: int, thread_id: int) -> None:
        try:
            await self._call(
                lambda: self._bot.delete_forum_topic(chat_id, thread_id), chat_id=chat_id
            )
        except RejectedByTelegram as error:
            # Telegram answers TOPIC_ID_INVALID for a topic that was deleted already.
            if "topic_id_invalid" in str(error).lower():
                raise TopicMissing(str(error)) from error
            raise

    async def leave_chat(self, chat_id: int) -> None:
        await self._call(lambda: self._bot.leave_chat(chat_id), chat_id=chat_id)

    async def administrators(self, chat_id: int) -> list[int]:
        members = await self._call(
            lambda: self._bot.get_chat_administrators(chat_id), chat_id=chat_id
        )
        return [member.user.id for member in members if not member.user.is_bot]
