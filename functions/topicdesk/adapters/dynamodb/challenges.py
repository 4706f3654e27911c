"""New people's questions (``topicdesk.domain.relay.challenge``): one item in the person's own
partition (``PERSON#<user>`` / ``CHALLENGE``), so erasing the person erases it too. It holds
the right answer, when it was asked, whether it was answered right, and the ids of the
messages held until then. Kept 30 days after the last change (TTL ``expires_at``)."""

from __future__ import annotations

import time
from typing import Any

from topicdesk.adapters.dynamodb import common
from topicdesk.adapters.dynamodb.sessions import person_partition
from topicdesk.domain.relay.challenge import ChallengeState

KEPT_SECONDS = 30 * 24 * 3600


def _key(user_id: int) -> dict[str, str]:
    return {"pk": person_partition(user_id), "sk": "CHALLENGE"}


class DynamoChallengeStore:
    def __init__(self, table: Any) -> None:
        self._table = table

    @staticmethod
    def _expires() -> int:
        return int(time.time()) + KEPT_SECONDS

    def get(self, user_id: int) -> ChallengeState | None:
        with common.storage_errors():
            item = self._table.get_item(Key=_key(user_id), ConsistentRead=True).get("Item")
        if item is None:
            return None
        return ChallengeState(
            answer=str(item.get("answer", "")),
            asked_at=common.as_float(item.get("asked_at")),
            passed=bool(item.get("passed", False)),
            held=tuple(common.as_int(i) for i in item.get("held", [])),
        )

    def _set(self, user_id: int, expression: str, values: dict[str, Any]) -> None:
        with common.storage_errors():
            self._table.update_item(
                Key=_key(user_id),
                UpdateExpression=f"{expression}, expires_at = :expires",
                ExpressionAttributeValues={**values, ":expires": self._expires()},
            )

    def ask(self, user_id: int, answer: str, now: float) -> None:
        self._set(
            user_id,
            "SET answer = :answer, asked_at = :now",
            {":answer": answer, ":now": common.decimal(now)},
        )

    def passed(self, user_id: int) -> None:
        self._set(user_id, "SET passed = :yes", {":yes": True})

    def hold(self, user_id: int, message_id: int) -> None:
        # Appended once: a redelivered record finds its id there already (order is kept:
        # the person's records run one at a time in their FIFO group).
        common.conditionally(
            lambda: self._table.update_item(
                Key=_key(user_id),
                UpdateExpression="SET held = list_append(if_not_exists(held, :none), :one), "
                "expires_at = :expires",
                ConditionExpression="attribute_not_exists(held) OR NOT contains(held, :id)",
                ExpressionAttributeValues={
                    ":none": [],
                    ":one": [message_id],
                    ":id": message_id,
                    ":expires": self._expires(),
                },
            )
        )

    def release(self, user_id: int) -> None:
        with common.storage_errors():
            self._table.update_item(Key=_key(user_id), UpdateExpression="REMOVE held")
