"""Broadcasts: the roster of everyone with a session, and each broadcast's state."""

from __future__ import annotations

from typing import Any

from topicdesk.adapters.dynamodb import common
from topicdesk.adapters.dynamodb.sessions import ROSTER_PARTITIONS
from topicdesk.domain.broadcast import Broadcast


class DynamoRoster:
    """Everyone with a session, spread over a few partitions so a broadcast can list them
    with a handful of queries (never a scan)."""

    def __init__(self, table: Any) -> None:
        self._table = table

    def people(self) -> list[int]:
        return sorted(
            common.as_int(item["user_id"])
            for partition in range(ROSTER_PARTITIONS)
            for item in common.query_all(
                self._table, f"PEOPLE#{partition}", ProjectionExpression="user_id"
            )
        )


class DynamoBroadcastRepository:
    TTL_SECONDS = 30 * 24 * 3600

    def __init__(self, table: Any) -> None:
        self._table = table

    @staticmethod
    def _key(broadcast_id: str) -> dict[str, str]:
        return {"pk": f"BCAST#{broadcast_id}", "sk": "BCAST"}

    def create(self, broadcast: Broadcast) -> None:
        item: dict[str, Any] = {
            **self._key(broadcast.broadcast_id),
            "chat_id": broadcast.chat_id,
            "status": broadcast.status,
            "requested_at": common.decimal(broadcast.requested_at),
            "total": 0,
            "delivered": 0,
            "blocked": 0,
            "failed": 0,
            "progress_posted": 0,
            "expires_at": int(broadcast.requested_at) + self.TTL_SECONDS,
        }
        if broadcast.thread_id is not None:
            item["thread_id"] = broadcast.thread_id
        if broadcast.source_message_id is not None:
            item["source_message_id"] = broadcast.source_message_id
        if broadcast.text is not None:
            item["text"] = broadcast.text
        with common.storage_errors():
            self._table.put_item(Item=item)

    @staticmethod
    def _from_item(broadcast_id: str, item: dict[str, Any]) -> Broadcast:
        return Broadcast(
            broadcast_id=broadcast_id,
            chat_id=common.as_int(item["chat_id"]),
            thread_id=common.as_optional_int(item.get("thread_id")),
            source_message_id=common.as_optional_int(item.get("source_message_id")),
            text=common.as_str(item.get("text")),
            status=str(item.get("status", "pending")),
            requested_at=common.as_float(item.get("requested_at")),
            total=common.as_int(item.get("total")),
            delivered=common.as_int(item.get("delivered")),
            blocked=common.as_int(item.get("blocked")),
            failed=common.as_int(item.get("failed")),
            progress_posted=common.as_int(item.get("progress_posted")),
        )

    def get(self, broadcast_id: str) -> Broadcast | None:
        with common.storage_errors():
            item = self._table.get_item(Key=self._key(broadcast_id), ConsistentRead=True).get(
                "Item"
            )
        return self._from_item(broadcast_id, item) if item else None

    def start(self, broadcast_id: str, total: int) -> bool:
        return common.conditionally(
            lambda: self._table.update_item(
                Key=self._key(broadcast_id),
                UpdateExpression="SET #status = :running, #total = :total",
                ConditionExpression="#status = :pending",
                ExpressionAttributeNames={"#status": "status", "#total": "total"},
                ExpressionAttributeValues={
                    ":running": "running",
                    ":pending": "pending",
                    ":total": total,
                },
            )
        )

    def count(self, broadcast_id: str, outcome: str) -> Broadcast:
        if outcome not in ("delivered", "blocked", "failed"):
            raise ValueError(outcome)
        with common.storage_errors():
            answer = self._table.update_item(
                Key=self._key(broadcast_id),
                UpdateExpression="ADD #outcome :one",
                ExpressionAttributeNames={"#outcome": outcome},
                ExpressionAttributeValues={":one": 1},
                ReturnValues="ALL_NEW",
            )
        return self._from_item(broadcast_id, answer["Attributes"])

    def advance_progress(self, broadcast_id: str, step: int) -> bool:
        return common.conditionally(
            lambda: self._table.update_item(
                Key=self._key(broadcast_id),
                UpdateExpression="SET progress_posted = :step",
                ConditionExpression="progress_posted < :step",
                ExpressionAttributeValues={":step": step},
            )
        )
