"""The Bot API calls of the inbox (``topicdesk.domain.inbox``), on top of the relay's gateway.

Each spends a unit of the operators' group's budget in the shared limiter, like a message:
each is visible in the group (a topic edit and a pin post a service message) and every edit
the bot makes there counts against the group's flood limit.
"""

from __future__ import annotations

import html
from collections.abc import Sequence

from telegram import InlineKeyboardButton, InlineKeyboardMarkup

from topicdesk.adapters.telegram import PtbTelegramGateway
from topicdesk.domain.inbox import Owner


class InboxTelegramGateway(PtbTelegramGateway):
    async def edit_topic(self, chat_id: int, thread_id: int, name: str) -> None:
        await self._call(
            lambda: self._bot.edit_forum_topic(chat_id, thread_id, name=name),
            chat_id=chat_id,
            sends=1,
        )

    async def edit_counted(self, chat_id: int, message_id: int, text: str) -> None:
        """editMessageText, counted (the relay's mirrored edits are not: Telegram's limits
        are on messages, but the overview is ours to keep within the group's budget)."""
        await self._call(
            lambda: self._bot.edit_message_text(text, chat_id=chat_id, message_id=message_id),
            chat_id=chat_id,
            sends=1,
        )

    async def pin(self, chat_id: int, message_id: int) -> None:
        await self._call(
            lambda: self._bot.pin_chat_message(chat_id, message_id, disable_notification=True),
            chat_id=chat_id,
            sends=1,
        )

    async def send_mention(
        self, chat_id: int, thread_id: int, text: str, mention: Owner | None
    ) -> int:
        """A message in a topic, the operator ``mention`` named after it (a text mention:
        they are notified even without a @username)."""
        body = html.escape(text)
        if mention is not None:
            body += f' <a href="tg://user?id={mention.user_id}">{html.escape(mention.name)}</a>'
        sent = await self._call(
            lambda: self._bot.send_message(
                chat_id, body, message_thread_id=thread_id, parse_mode="HTML"
            ),
            chat_id=chat_id,
            sends=1,
        )
        return sent.message_id

    async def send_card(
        self, chat_id: int, thread_id: int, text: str, buttons: Sequence[tuple[str, str]]
    ) -> int:
        """A message in a topic with one row of inline buttons (label, callback data)."""
        keyboard = InlineKeyboardMarkup(
            [[InlineKeyboardButton(label, callback_data=data) for label, data in buttons]]
        )
        sent = await self._call(
            lambda: self._bot.send_message(
                chat_id, text, message_thread_id=thread_id, reply_markup=keyboard
            ),
            chat_id=chat_id,
            sends=1,
        )
        return sent.message_id
