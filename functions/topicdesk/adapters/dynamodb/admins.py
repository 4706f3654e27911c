"""The operators' groups' administrators, cached (``ADMINS#<chat>``; TTL ``expires_at``)."""

from __future__ import annotations

from typing import Any

from topicdesk.adapters.dynamodb import common


class DynamoAdminDirectory:
    def __init__(self, table: Any) -> None:
        self._table = table

    @staticmethod
    def _key(chat_id: int) -> dict[str, str]:
        return {"pk": f"ADMINS#{chat_id}", "sk": "ADMINS"}

    def admins(self, chat_id: int, now: float) -> frozenset[int] | None:
        with common.storage_errors():
            item = self._table.get_item(Key=self._key(chat_id)).get("Item")
        if item is None or common.as_float(item.get("until")) <= now:
            return None
        return frozenset(common.as_int(user) for user in item.get("admins", []))

    def remember(self, chat_id: int, admins: frozenset[int], until: float) -> None:
        with common.storage_errors():
            self._table.put_item(
                Item={
                    **self._key(chat_id),
                    "admins": sorted(admins),
                    "until": common.decimal(until),
                    "expires_at": int(until) + 3600,
                }
            )
