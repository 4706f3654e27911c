"""Which queue group an update belongs to.

Telegram delivers the updates of one chat in order; the SQS FIFO ``MessageGroupId`` keeps that
order through the queue while different chats are processed in parallel. The table below names
every update type of Bot API 10.1 and where its chat (or, failing that, its user) is found.
"""

from __future__ import annotations

import json
import re
from collections.abc import Mapping
from typing import Any

# update type -> paths to try, in order; each path is a chain of keys ending at an id.
_GROUP_PATHS: dict[str, tuple[tuple[str, ...], ...]] = {
    "message": (("chat", "id"),),
    "edited_message": (("chat", "id"),),
    "channel_post": (("chat", "id"),),
    "edited_channel_post": (("chat", "id"),),
    "business_connection": (("user", "id"),),
    "business_message": (("chat", "id"),),
    "edited_business_message": (("chat", "id"),),
    "deleted_business_messages": (("chat", "id"),),
    "guest_message": (("chat", "id"),),
    "message_reaction": (("chat", "id"),),
    "message_reaction_count": (("chat", "id"),),
    "inline_query": (("from", "id"),),
    "chosen_inline_result": (("from", "id"),),
    # The message of a callback may be inaccessible (date 0) but still names its chat.
    "callback_query": (("message", "chat", "id"), ("from", "id")),
    "shipping_query": (("from", "id"),),
    "pre_checkout_query": (("from", "id"),),
    "purchased_paid_media": (("from", "id"),),
    "poll": (("id",),),
    "poll_answer": (("voter_chat", "id"), ("user", "id")),
    "my_chat_member": (("chat", "id"),),
    "chat_member": (("chat", "id"),),
    "chat_join_request": (("chat", "id"),),
    "chat_boost": (("chat", "id"),),
    "removed_chat_boost": (("chat", "id"),),
    "managed_bot": (("user", "id"),),
}

KNOWN_UPDATE_TYPES: frozenset[str] = frozenset(_GROUP_PATHS)

# Updates of a type this code does not know yet (Telegram adds types) still go through the
# queue, one shared group, so nothing is lost and their order among themselves holds.
UNKNOWN_GROUP = "unrouted"
_GROUP_UNSAFE = re.compile(r"[^!-~]")


def update_type(update: Mapping[str, Any]) -> str | None:
    """The update's type: the one key besides ``update_id`` that the spec defines."""
    for key in update:
        if key in _GROUP_PATHS:
            return key
    return None


def _walk(value: Any, path: tuple[str, ...]) -> Any:
    for key in path:
        if not isinstance(value, Mapping) or key not in value:
            return None
        value = value[key]
    return value


TOPIC_SEPARATOR = ":"
# Where a forum topic's messages name their topic (the message itself, or a callback's message).
_TOPIC_PATHS: dict[str, tuple[str, ...]] = {
    "message": (),
    "edited_message": (),
    "callback_query": ("message",),
}


def _forum_topic(kind: str, update: Mapping[str, Any]) -> int | None:
    """The forum topic (``message_thread_id``) a supergroup update belongs to, if any."""
    if kind not in _TOPIC_PATHS:
        return None
    message = _walk(update[kind], _TOPIC_PATHS[kind])
    if not isinstance(message, Mapping) or message.get("is_topic_message") is not True:
        return None
    chat = message.get("chat")
    if not isinstance(chat, Mapping) or chat.get("type") != "supergroup":
        return None
    thread = message.get("message_thread_id")
    return thread if isinstance(thread, int) and not isinstance(thread, bool) else None


def group_key(update: Mapping[str, Any]) -> str:
    """The SQS ``MessageGroupId`` for an update: the conversation it belongs to.

    Private chats share their id with the user, so a person's messages, callbacks and inline
    queries all land in one group and keep their relative order. In a forum supergroup (the
    operators' group) each topic is a conversation of its own (``<chat>:<thread>``): one
    troubled topic never holds back another's answers. General, the ops topic and updates
    that name no topic keep the chat's group.
    """
    kind = update_type(update)
    if kind is None:
        return UNKNOWN_GROUP
    topic = _forum_topic(kind, update)
    for path in _GROUP_PATHS[kind]:
        found = _walk(update[kind], path)
        if isinstance(found, bool) or not isinstance(found, int | str):
            continue
        # SQS takes 1-128 characters of ASCII letters, digits and punctuation.
        suffix = f"{TOPIC_SEPARATOR}{topic}" if topic is not None else ""
        key = _GROUP_UNSAFE.sub("_", f"{'poll:' if kind == 'poll' else ''}{found}{suffix}")[:128]
        if key.strip("_:"):
            return key
    return f"{kind}:unrouted"


def is_served(update: Mapping[str, Any], operator_chat_ids: frozenset[int]) -> bool:
    """Whether the update belongs to a chat Topicdesk serves: a person's private chat or an
    operators' group. A stranger's group or channel is not served, except for the bot's own
    membership there (``my_chat_member``: the consumer leaves such chats). Updates that name
    no chat (they come from a user) are served."""
    kind = update_type(update)
    if kind is None or kind == "my_chat_member":
        return True
    chat = _walk(update[kind], ("chat",))
    if kind == "callback_query":
        chat = _walk(update[kind], ("message", "chat"))
    if not isinstance(chat, Mapping):
        return True
    return chat.get("type") == "private" or chat.get("id") in operator_chat_ids


def chat_of_group(group: str) -> int | None:
    """The chat id a group key names (``-100123:45`` -> -100123); None for other keys."""
    head = group.split(TOPIC_SEPARATOR, 1)[0]
    return int(head) if head.lstrip("-").isdigit() else None


def is_topic_group(group: str) -> bool:
    """A forum topic's conversation (``<chat>:<thread>``): in the operators' group, that is an
    operator answering a person (or running a command in their topic)."""
    head, separator, thread = group.partition(TOPIC_SEPARATOR)
    return bool(separator) and head.startswith("-") and thread.isdigit()


def parse_update(body: str) -> dict[str, Any] | None:
    """A queued body back to an update; None when it is not an object with an integer
    ``update_id`` (the webhook never enqueues such a thing, but a replay might)."""
    try:
        parsed = json.loads(body)
    except (ValueError, RecursionError):
        return None
    if not isinstance(parsed, dict):
        return None
    update_id = parsed.get("update_id")
    if not isinstance(update_id, int) or isinstance(update_id, bool):
        return None
    return parsed
