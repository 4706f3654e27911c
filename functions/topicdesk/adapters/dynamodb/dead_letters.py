"""The dead-letter archive (what the DLQ processor stored, for on-call to list and replay)."""

from __future__ import annotations

import time
from typing import Any

from topicdesk.adapters.dynamodb import common
from topicdesk.domain.model import DeadLetter

DEAD_LETTER_TTL_SECONDS = 30 * 24 * 3600


class DynamoDeadLetterArchive:
    _PK = "DEAD"

    def __init__(self, table: Any) -> None:
        self._table = table

    def archive(self, dead: DeadLetter) -> bool:
        item: dict[str, Any] = {
            "pk": self._PK,
            "sk": dead.archive_id,
            "body": dead.body,
            "reason": dead.reason,
            "receive_count": dead.receive_count,
            "first_failure_at": common.decimal(dead.first_failure_at),
            "last_failure_at": common.decimal(dead.last_failure_at),
            "sent_at": common.decimal(dead.sent_at),
            "notified": False,
            "expires_at": int(time.time()) + DEAD_LETTER_TTL_SECONDS,
            "extra": dict(dead.extra),
        }
        if dead.update_id is not None:
            item["update_id"] = dead.update_id
        if dead.chat_id is not None:
            item["chat_id"] = dead.chat_id
        if dead.group_id:
            item["group_id"] = dead.group_id
        return common.conditionally(
            lambda: self._table.put_item(Item=item, ConditionExpression="attribute_not_exists(sk)")
        )

    @staticmethod
    def _from_item(item: dict[str, Any]) -> DeadLetter:
        extra = item.get("extra") or {}
        return DeadLetter(
            archive_id=str(item["sk"]),
            body=str(item.get("body", "")),
            update_id=common.as_optional_int(item.get("update_id")),
            chat_id=common.as_optional_int(item.get("chat_id")),
            reason=str(item.get("reason", "")),
            receive_count=common.as_int(item.get("receive_count")),
            first_failure_at=common.as_float(item.get("first_failure_at")),
            last_failure_at=common.as_float(item.get("last_failure_at")),
            sent_at=common.as_float(item.get("sent_at")),
            group_id=common.as_str(item.get("group_id")),
            notified=bool(item.get("notified", False)),
            extra={str(k): str(v) for k, v in extra.items()},
        )

    def get(self, archive_id: str) -> DeadLetter | None:
        with common.storage_errors():
            item = self._table.get_item(
                Key={"pk": self._PK, "sk": archive_id}, ConsistentRead=True
            ).get("Item")
        return self._from_item(item) if item else None

    def mark_notified(self, archive_id: str) -> bool:
        return common.conditionally(
            lambda: self._table.update_item(
                Key={"pk": self._PK, "sk": archive_id},
                UpdateExpression="SET notified = :true",
                ConditionExpression="attribute_exists(sk) AND notified = :false",
                ExpressionAttributeValues={":true": True, ":false": False},
            )
        )

    def list(self) -> list[DeadLetter]:
        return [self._from_item(item) for item in common.query_all(self._table, self._PK)]

    def delete(self, archive_id: str) -> None:
        with common.storage_errors():
            self._table.delete_item(Key={"pk": self._PK, "sk": archive_id})
