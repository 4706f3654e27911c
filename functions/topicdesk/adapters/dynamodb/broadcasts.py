"""Broadcasts: the roster of everyone with a session, and each broadcast's state."""

from __future__ import annotations

from typing import Any, Unpack

from topicdesk.adapters.dynamodb import common
from topicdesk.adapters.dynamodb.sessions import ROSTER_PARTITIONS
from topicdesk.domain.broadcast import Actor, Broadcast
from topicdesk.domain.broadcast.model import CANCELLED, DONE, PENDING, PROGRESS_STEPS, RUNNING
from topicdesk.domain.ports import Confirmation

_COUNTERS = ("total", "delivered", "blocked", "failed", "progress_posted")
"""A broadcast's counters: 0 when it is asked for; ``start``, ``count`` and
``advance_progress`` move them."""


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
    """One item per broadcast in its operators' group's partition (``BCAST#<chat>``, sort
    key ``BCAST#<question>``): two groups' broadcasts never share an item, and a group's
    active ones are one query away (``/cancel`` with no reply)."""

    TTL_SECONDS = 30 * 24 * 3600
    _SK_PREFIX = "BCAST#"

    def __init__(self, table: Any) -> None:
        self._table = table

    @classmethod
    def _key(cls, broadcast_id: str) -> dict[str, str]:
        chat, scoped, question = broadcast_id.partition("_")
        if not scoped:  # an id that names no group (stored before ids were scoped)
            return {"pk": f"BCAST#{broadcast_id}", "sk": "BCAST"}
        return {"pk": f"BCAST#{chat}", "sk": f"{cls._SK_PREFIX}{question}"}

    def create(self, broadcast: Broadcast) -> bool:
        item: dict[str, Any] = {
            **self._key(broadcast.broadcast_id),
            "broadcast_id": broadcast.broadcast_id,
            "chat_id": broadcast.chat_id,
            "status": broadcast.status,
            "requested_at": common.decimal(broadcast.requested_at),
            **dict.fromkeys(_COUNTERS, 0),
            "expires_at": int(broadcast.requested_at) + self.TTL_SECONDS,
            **_actor_fields("requested_by", broadcast.requested_by),
        }
        if broadcast.thread_id is not None:
            item["thread_id"] = broadcast.thread_id
        if broadcast.source_message_id is not None:
            item["source_message_id"] = broadcast.source_message_id
        if broadcast.text is not None:
            item["text"] = broadcast.text
        # Conditional: a redelivered /broadcast (same question, same id) writes nothing, and
        # never resets a broadcast that is already running.
        return common.conditionally(
            lambda: self._table.put_item(Item=item, ConditionExpression="attribute_not_exists(pk)")
        )

    @staticmethod
    def _from_item(broadcast_id: str, item: dict[str, Any]) -> Broadcast:
        return Broadcast(
            broadcast_id=broadcast_id,
            chat_id=common.as_int(item["chat_id"]),
            thread_id=common.as_optional_int(item.get("thread_id")),
            source_message_id=common.as_optional_int(item.get("source_message_id")),
            text=common.as_str(item.get("text")),
            status=str(item.get("status", PENDING)),
            requested_at=common.as_float(item.get("requested_at")),
            **{name: common.as_int(item.get(name)) for name in _COUNTERS},
            requested_by=_actor(item, "requested_by"),
            confirmed_by=_actor(item, "confirmed_by"),
            cancelled_by=_actor(item, "cancelled_by"),
            frozen_message_id=common.as_optional_int(item.get("frozen_message_id")),
        )

    def get(self, broadcast_id: str) -> Broadcast | None:
        with common.storage_errors():
            item = self._table.get_item(Key=self._key(broadcast_id), ConsistentRead=True).get(
                "Item"
            )
        return self._from_item(broadcast_id, item) if item else None

    def active(self, chat_id: int) -> list[Broadcast]:
        items = common.query_all(self._table, f"BCAST#{chat_id}", ConsistentRead=True)
        return [
            self._from_item(str(item.get("broadcast_id", "")), item)
            for item in items
            if str(item.get("sk", "")).startswith(self._SK_PREFIX)
            and item.get("status") in (PENDING, RUNNING)
            and item.get("broadcast_id")
        ]

    def start(self, broadcast_id: str, total: int, **confirmation: Unpack[Confirmation]) -> bool:
        fields: dict[str, Any] = {"status": RUNNING, "total": total}
        fields.update(_actor_fields("confirmed_by", confirmation.get("confirmed_by")))
        frozen_message_id = confirmation.get("frozen_message_id")
        if frozen_message_id is not None:
            fields["frozen_message_id"] = frozen_message_id
        return self._transition(broadcast_id, fields, (PENDING,))

    def cancel(self, broadcast_id: str, by: Actor | None) -> bool:
        fields: dict[str, Any] = {"status": CANCELLED, **_actor_fields("cancelled_by", by)}
        return self._transition(broadcast_id, fields, (PENDING, RUNNING))

    def _transition(
        self, broadcast_id: str, fields: dict[str, Any], allowed: tuple[str, ...]
    ) -> bool:
        """Set ``fields`` if the broadcast's status is one of ``allowed`` (and it exists)."""
        update, names, values = common.update_expression(fields)
        names["#st"] = "status"
        allowed_values = {f":from{index}": status for index, status in enumerate(allowed)}
        return common.conditionally(
            lambda: self._table.update_item(
                Key=self._key(broadcast_id),
                UpdateExpression=update,
                ConditionExpression=f"#st IN ({', '.join(allowed_values)})",
                ExpressionAttributeNames=names,
                ExpressionAttributeValues={**values, **allowed_values},
            )
        )

    def count(self, broadcast_id: str, outcome: str) -> Broadcast:
        if outcome not in ("delivered", "blocked", "failed"):
            raise ValueError(outcome)
        with common.storage_errors():
            answer = self._table.update_item(
                Key=self._key(broadcast_id),
                UpdateExpression="ADD #outcome :one",
                ConditionExpression="attribute_exists(pk)",  # never a stray new item
                ExpressionAttributeNames={"#outcome": outcome},
                ExpressionAttributeValues={":one": 1},
                ReturnValues="ALL_NEW",
            )
        return self._from_item(broadcast_id, answer["Attributes"])

    def advance_progress(self, broadcast_id: str, step: int) -> bool:
        # The final note's claim and the end of the broadcast are one write, and neither is
        # granted once /cancel stopped it: cancel and finish cannot both win.
        final = step >= PROGRESS_STEPS
        return common.conditionally(
            lambda: self._table.update_item(
                Key=self._key(broadcast_id),
                UpdateExpression="SET progress_posted = :step" + (", #st = :done" if final else ""),
                ConditionExpression="progress_posted < :step AND #st = :running",
                ExpressionAttributeNames={"#st": "status"},
                ExpressionAttributeValues={
                    ":step": step,
                    ":running": RUNNING,
                    **({":done": DONE} if final else {}),
                },
            )
        )


def _actor_fields(prefix: str, actor: Actor | None) -> dict[str, Any]:
    if actor is None:
        return {}
    return {f"{prefix}_id": actor.user_id, f"{prefix}_name": actor.name}


def _actor(item: dict[str, Any], prefix: str) -> Actor | None:
    user_id = common.as_optional_int(item.get(f"{prefix}_id"))
    if user_id is None:
        return None
    return Actor(user_id, common.as_str(item.get(f"{prefix}_name")) or str(user_id))
