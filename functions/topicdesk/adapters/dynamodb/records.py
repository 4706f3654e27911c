"""Per-update records: the failure journal (why an update failed, how often) and the step
record (which visible steps of a unit of work are done)."""

from __future__ import annotations

import json
import time
from typing import Any

from topicdesk.adapters.dynamodb import common
from topicdesk.domain.ports import FailureRecord

FAILURE_TTL_SECONDS = 15 * 24 * 3600  # outlives the DLQ's 14-day retention


class DynamoFailureJournal:
    def __init__(self, table: Any) -> None:
        self._table = table

    def record(self, update_id: int, reason: str, now: float) -> int:
        with common.storage_errors():
            answer = self._table.update_item(
                Key={"pk": f"FAIL#{update_id}", "sk": "FAIL"},
                UpdateExpression=(
                    "SET reason = :reason, last_failure_at = :now, expires_at = :expires, "
                    "first_failure_at = if_not_exists(first_failure_at, :now) "
                    "ADD failures :one"
                ),
                ExpressionAttributeValues={
                    ":reason": reason[:1000],
                    ":now": common.decimal(now),
                    ":expires": int(now) + FAILURE_TTL_SECONDS,
                    ":one": 1,
                },
                ReturnValues="UPDATED_NEW",
            )
        return common.as_int(answer["Attributes"].get("failures"), 1)

    def begin_attempt(self, update_id: int, now: float) -> tuple[int, int]:
        """One more attempt starts; returns (failures, attempts that never ended)."""
        with common.storage_errors():
            answer = self._table.update_item(
                Key={"pk": f"FAIL#{update_id}", "sk": "FAIL"},
                UpdateExpression="SET expires_at = :expires ADD attempts :one",
                ExpressionAttributeValues={
                    ":expires": int(now) + FAILURE_TTL_SECONDS,
                    ":one": 1,
                },
                ReturnValues="ALL_NEW",
            )
        item = answer["Attributes"]
        attempts, ended = common.as_int(item.get("attempts"), 1), common.as_int(item.get("ended"))
        return common.as_int(item.get("failures")), max(0, attempts - 1 - ended)

    def end_attempt(self, update_id: int) -> None:
        with common.storage_errors():
            self._table.update_item(
                Key={"pk": f"FAIL#{update_id}", "sk": "FAIL"},
                UpdateExpression="ADD ended :one",
                ExpressionAttributeValues={":one": 1},
            )

    def get(self, update_id: int) -> FailureRecord | None:
        with common.storage_errors():
            item = self._table.get_item(Key={"pk": f"FAIL#{update_id}", "sk": "FAIL"}).get("Item")
        if item is None:
            return None
        return FailureRecord(
            reason=str(item.get("reason", "")),
            first_failure_at=common.as_float(item.get("first_failure_at")),
            last_failure_at=common.as_float(item.get("last_failure_at")),
            failures=common.as_int(item.get("failures")),
        )

    def clear(self, update_id: int) -> None:
        with common.storage_errors():
            self._table.delete_item(Key={"pk": f"FAIL#{update_id}", "sk": "FAIL"})


STEP_PREFIX = "s_"


class DynamoStepLog:
    """The step record of each unit of work (``topicdesk.domain.steps``): one item per unit,
    one attribute per step (``s_<name>``, the result as JSON, so lists and None survive)."""

    def __init__(self, table: Any, ttl_seconds: int = FAILURE_TTL_SECONDS) -> None:
        self._table = table
        self._ttl = ttl_seconds  # as long as a dead letter can be replayed

    @staticmethod
    def _key(key: str) -> dict[str, str]:
        return {"pk": f"STEPS#{key}", "sk": "STEPS"}

    def load(self, key: str) -> dict[str, Any]:
        with common.storage_errors():
            item = self._table.get_item(Key=self._key(key), ConsistentRead=True).get("Item")
        return {
            name[len(STEP_PREFIX) :]: json.loads(value)
            for name, value in (item or {}).items()
            if name.startswith(STEP_PREFIX) and isinstance(value, str)
        }

    def save(self, key: str, steps: dict[str, Any]) -> None:
        if not steps:
            return
        fields: dict[str, Any] = {
            f"{STEP_PREFIX}{name}": json.dumps(value) for name, value in steps.items()
        }
        fields["expires_at"] = int(time.time()) + self._ttl
        expression, names, values = common.update_expression(fields)
        with common.storage_errors():
            self._table.update_item(
                Key=self._key(key),
                UpdateExpression=expression,
                ExpressionAttributeNames=names,
                ExpressionAttributeValues=values,
            )
