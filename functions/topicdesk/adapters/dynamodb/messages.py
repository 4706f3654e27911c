"""The message map: which message in a private chat is which in the topic (both ways, TTL).

Each link also leaves a pointer in the person's partition (``PERSON#<user>``, sk
``MSG#<chat>#<message>``, the private chat's side: private chat ids are the people's user ids,
positive; groups' are negative), so that erasing a person finds every map item of theirs with
one query (``topicdesk.adapters.dynamodb.erasure``). It expires with the items it points at.
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
                        **map_key(source),
                        "peer_chat_id": target.chat_id,
                        "peer_message_id": target.message_id,
                        _TTL: expires,
                    }
                )
            private = next((ref for ref in (first, second) if ref.chat_id > 0), None)
            if private is not None:
                peer = second if private == first else first
                batch.put_item(
                    Item={
                        "pk": person_partition(private.chat_id),
                        "sk": map_key(private)["pk"],
                        "peer_chat_id": peer.chat_id,
                        "peer_message_id": peer.message_id,
                        _TTL: expires,
                    }
                )

    def peer(self, ref: MessageRef) -> MessageRef | None:
        with storage_errors():
            item = self._table.get_item(Key=map_key(ref), ConsistentRead=True).get("Item")
        if item is None or as_int(item.get(_TTL)) < int(time.time()):
            return None  # TTL deletion lags; an expired link is treated as gone
        return MessageRef(as_int(item["peer_chat_id"]), as_int(item["peer_message_id"]))
