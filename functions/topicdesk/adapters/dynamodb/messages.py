"""The message map: which message in a private chat is which in the topic (both ways, TTL)."""

from __future__ import annotations

import time
from typing import Any

from topicdesk.adapters.dynamodb.common import as_int, storage_errors
from topicdesk.domain.model import MessageRef

MESSAGE_MAP_TTL_SECONDS = 30 * 24 * 3600


class DynamoMessageMap:
    def __init__(self, table: Any, ttl_seconds: int = MESSAGE_MAP_TTL_SECONDS) -> None:
        self._table = table
        self._ttl = ttl_seconds

    def link(self, first: MessageRef, second: MessageRef) -> None:
        expires = int(time.time()) + self._ttl
        pairs = {(first, second), (second, first)}  # one item when a message marks itself
        with storage_errors(), self._table.batch_writer() as batch:
            for source, target in pairs:
                batch.put_item(
                    Item={
                        "pk": f"MSG#{source.chat_id}#{source.message_id}",
                        "sk": "MAP",
                        "peer_chat_id": target.chat_id,
                        "peer_message_id": target.message_id,
                        "expires_at": expires,
                    }
                )

    def peer(self, ref: MessageRef) -> MessageRef | None:
        with storage_errors():
            item = self._table.get_item(
                Key={"pk": f"MSG#{ref.chat_id}#{ref.message_id}", "sk": "MAP"},
                ConsistentRead=True,
            ).get("Item")
        if item is None or as_int(item.get("expires_at")) < int(time.time()):
            return None  # TTL deletion lags; an expired link is treated as gone
        return MessageRef(as_int(item["peer_chat_id"]), as_int(item["peer_message_id"]))
