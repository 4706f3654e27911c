"""The message map: which message in a private chat is which in the topic (both ways, TTL).

The group's side of a link is its own item (``MSG#<chat>#<message>``, sk ``MAP``); the
private chat's side lives in the person's partition (``PERSON#<user>``, sk
``MSG#<chat>#<message>``: private chat ids are the people's user ids, positive; groups' are
negative), so that erasing a person finds every link of theirs with one query
(``topicdesk.adapters.dynamodb.erasure``) and a link costs two item writes, not three.
Links written before this layout also kept a ``MAP`` item for the private side; erasing
still deletes it, and they expire within the TTL.
"""

from __future__ import annotations

import time
from typing import Any

from topicdesk.adapters.dynamodb.common import as_int, storage_errors
from topicdesk.adapters.dynamodb.sessions import person_partition
from topicdesk.contract import DATA_TABLE
from topicdesk.domain.model import MessageRef

MESSAGE_MAP_TTL_SECONDS = 30 * 24 * 3600
MAP_PREFIX = "MSG#"
MAP_SK = "MAP"
_TTL = DATA_TABLE.ttl_attribute


def map_key(ref: MessageRef) -> dict[str, str]:
    return {"pk": f"{MAP_PREFIX}{ref.chat_id}#{ref.message_id}", "sk": MAP_SK}


def link_key(ref: MessageRef) -> dict[str, str]:
    """Where ``ref``'s side of a link is kept: a private chat's in the person's partition."""
    if ref.chat_id > 0:
        return {"pk": person_partition(ref.chat_id), "sk": map_key(ref)["pk"]}
    return map_key(ref)


class DynamoMessageMap:
    def __init__(self, table: Any, ttl_seconds: int = MESSAGE_MAP_TTL_SECONDS) -> None:
        """``ttl_seconds``: never longer than a session lives (the stage's retention)."""
        self._table = table
        self._ttl = ttl_seconds

    def link(self, first: MessageRef, second: MessageRef) -> None:
        expires = int(time.time()) + self._ttl
        pairs = {(first, second), (second, first)}  # one item when a message marks itself
        with storage_errors(), self._table.batch_writer() as batch:
            for source, target in pairs:
                batch.put_item(
                    Item={
                        **link_key(source),
                        "peer_chat_id": target.chat_id,
                        "peer_message_id": target.message_id,
                        _TTL: expires,
                    }
                )

    def peer(self, ref: MessageRef) -> MessageRef | None:
        with storage_errors():
            item = self._table.get_item(Key=link_key(ref), ConsistentRead=True).get("Item")
        if item is None or as_int(item.get(_TTL)) < int(time.time()):
            return None  # TTL deletion lags; an expired link is treated as gone
        return MessageRef(as_int(item["peer_chat_id"]), as_int(item["peer_message_id"]))
