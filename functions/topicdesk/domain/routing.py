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


def group_key(update: Mapping[str, Any]) -> str:
    """The SQS ``MessageGroupId`` for an update: the id of the chat it belongs to.

    Private chats share their id with the user, so a person's messages, callbacks and inline
    queries all land in one group and keep their relative order.
    """
    kind = update_type(update)
    if kind is None:
        return UNKNOWN_GROUP
    for path in _GROUP_PATHS[kind]:
        found = _walk(update[kind], path)
        if isinstance(found, bool) or not isinstance(found, int | str):
            continue
        # SQS takes 1-128 characters of ASCII letters, digits and punctuation.
        key = _GROUP_UNSAFE.sub("_", f"{'poll:' if kind == 'poll' else ''}{found}")[:128]
        if key.strip("_:"):
            return key
    return f"{kind}:unrouted"


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
