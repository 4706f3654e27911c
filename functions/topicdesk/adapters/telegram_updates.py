"""PTB's objects -> the domain's values (``ChatMessage``, ``Person``): what the relay needs of
an update, and nothing of python-telegram-bot beyond this module and ``runtime/ptb.py``."""

from __future__ import annotations

from telegram import Message
from telegram import User as TgUser

from topicdesk.domain.model import ChatMessage, Person

# Content attributes in the order Telegram documents them; the first present names the kind.
_CONTENT_KINDS = (
    "text",
    "animation",
    "audio",
    "document",
    "paid_media",
    "photo",
    "sticker",
    "story",
    "video",
    "video_note",
    "voice",
    "checklist",
    "contact",
    "dice",
    "game",
    "poll",
    "venue",
    "location",
    "invoice",
    "giveaway",
    "giveaway_winners",
)
_CAPTIONED = frozenset({"animation", "audio", "document", "paid_media", "photo", "video", "voice"})


_NAMED_ALIKE = ("first_name", "last_name", "username", "language_code", "is_bot")
"""The fields Telegram's User and ``Person`` both have, under the same names."""


def person_from(user: TgUser) -> Person:
    return Person(user_id=user.id, **{name: getattr(user, name) for name in _NAMED_ALIKE})


def message_kind(message: Message) -> str:
    for kind in _CONTENT_KINDS:
        value = getattr(message, kind, None)
        if value:
            return kind
    return "service"


def chat_message_from(message: Message, bot_username: str | None = None) -> ChatMessage:
    kind = message_kind(message)
    reply_to = message.reply_to_message.message_id if message.reply_to_message else None
    if message.is_topic_message and reply_to == message.message_thread_id:
        reply_to = None  # in a topic, the topic's first message stands in for "no reply"
    return ChatMessage(
        chat_id=message.chat_id,
        message_id=message.message_id,
        sender=person_from(message.from_user) if message.from_user else None,
        kind=kind,
        text=message.text if kind == "text" else message.caption,
        thread_id=message.message_thread_id,
        is_topic_message=bool(message.is_topic_message),
        reply_to_message_id=reply_to,
        reply_to_sender=(
            person_from(message.reply_to_message.from_user)
            if reply_to is not None
            and message.reply_to_message
            and message.reply_to_message.from_user
            else None
        ),
        media_group_id=message.media_group_id,
        has_caption_slot=kind in _CAPTIONED,
        bot_username=bot_username,
        # An anonymous admin (or "send as the group") writes as the chat itself.
        as_group=message.sender_chat is not None and message.sender_chat.id == message.chat_id,
    )
