"""The inbox's records (``topicdesk.domain.inbox``): one partition per operators' group.

| item          | pk              | sk             |
|---------------|-----------------|----------------|
| conversation  | ``INBOX#<chat>``| ``CONV#<user>``|
| group's inbox | ``INBOX#<chat>``| ``GROUP``      |
| an operator   | ``INBOX#<chat>``| ``OP#<username>``|

A conversation's state, owner and timestamps are written with one conditional ``UpdateItem``
on its ``version`` (optimistic concurrency); ``shown``/``shown_at`` (the topic's label) are
written apart, unconditionally, so a label noted by the refresh job never undoes a state
change and a state change never undoes the note. The group's refresh job lists the
conversations with one query on the partition. A closed conversation expires (TTL)
``CLOSED_KEPT_SECONDS`` after its close; an open one a year after its last change.
"""

from __future__ import annotations

from typing import Any

from topicdesk.adapters.dynamodb import common
from topicdesk.domain.inbox import Conversation, GroupInbox, Owner, State

CLOSED_KEPT_SECONDS = 90 * 86400
"""Long enough for a quarter's stats; closed conversations then leave the group's partition."""
OPEN_KEPT_SECONDS = 365 * 86400


def partition(chat_id: int) -> str:
    return f"INBOX#{chat_id}"


def conversation_key(chat_id: int, user_id: int) -> dict[str, str]:
    return {"pk": partition(chat_id), "sk": f"CONV#{user_id}"}


def group_key(chat_id: int) -> dict[str, str]:
    return {"pk": partition(chat_id), "sk": "GROUP"}


_TIMES = (
    "waiting_since",
    "opened_at",
    "first_response_at",
    "resolved_at",
    "last_person_at",
    "last_operator_at",
    "nudged_for",
    "away_for",
)


def _latest(record: Conversation) -> float:
    times: list[float] = [record.changed_at]
    times.extend(time for name in _TIMES if (time := getattr(record, name)) is not None)
    return max(times)


def _optional_float(value: Any) -> float | None:
    return common.as_float(value) if value is not None else None


def _from_item(item: dict[str, Any]) -> Conversation:
    owner_id = common.as_optional_int(item.get("owner_id"))
    state = common.as_str(item.get("state"))
    return Conversation(
        chat_id=common.as_int(item["chat_id"]),
        user_id=common.as_int(item["user_id"]),
        thread_id=common.as_optional_int(item.get("thread_id")),
        name=str(item.get("name", "")),
        state=State(state) if state else None,
        owner=Owner(owner_id, str(item.get("owner_name", ""))) if owner_id else None,
        version=common.as_int(item.get("version")),
        changed_at=common.as_float(item.get("changed_at")),
        shown=common.as_str(item.get("shown")),
        shown_at=common.as_float(item.get("shown_at")),
        **{name: _optional_float(item.get(name)) for name in _TIMES},
    )


class DynamoInboxStore:
    def __init__(self, table: Any) -> None:
        self._table = table

    def get(self, chat_id: int, user_id: int) -> Conversation | None:
        with common.storage_errors():
            item = self._table.get_item(
                Key=conversation_key(chat_id, user_id), ConsistentRead=True
            ).get("Item")
        return _from_item(item) if item else None

    def save(self, record: Conversation, expected_version: int) -> bool:
        kept = CLOSED_KEPT_SECONDS if record.state is State.CLOSED else OPEN_KEPT_SECONDS
        values: dict[str, Any] = {
            "chat_id": record.chat_id,
            "user_id": record.user_id,
            "thread_id": record.thread_id,
            "name": record.name,
            "state": record.state.value if record.state else None,
            "owner_id": record.owner.user_id if record.owner else None,
            "owner_name": record.owner.name if record.owner else None,
            "version": expected_version + 1,
            "changed_at": common.decimal(record.changed_at),
            "expires_at": int(_latest(record) + kept),
            **{
                name: common.decimal(value) if value is not None else None
                for name, value in zip(_TIMES, self._times(record), strict=True)
            },
        }
        present = {name: value for name, value in values.items() if value is not None}
        absent = [name for name, value in values.items() if value is None]
        expression, names, attribute_values = common.update_expression(present)
        if absent:
            removed = {f"#r{i}": name for i, name in enumerate(absent)}
            names.update(removed)
            expression += " REMOVE " + ", ".join(removed)
        names["#version"] = "version"
        if expected_version == 0:
            condition = "attribute_not_exists(#version)"
        else:
            condition = "#version = :expected"
            attribute_values[":expected"] = expected_version
        return common.conditionally(
            lambda: self._table.update_item(
                Key=conversation_key(record.chat_id, record.user_id),
                UpdateExpression=expression,
                ConditionExpression=condition,
                ExpressionAttributeNames=names,
                ExpressionAttributeValues=attribute_values,
            )
        )

    @staticmethod
    def _times(record: Conversation) -> list[float | None]:
        return [getattr(record, name) for name in _TIMES]

    def mark_shown(self, chat_id: int, user_id: int, shown: str, at: float) -> None:
        self._update(conversation_key(chat_id, user_id), shown=shown, shown_at=common.decimal(at))

    def conversations(self, chat_id: int) -> list[Conversation]:
        items = common.query_all(
            self._table,
            partition(chat_id),
            KeyConditionExpression="pk = :pk AND begins_with(sk, :conv)",
            ExpressionAttributeValues={":pk": partition(chat_id), ":conv": "CONV#"},
        )
        return [_from_item(item) for item in items]

    def group(self, chat_id: int) -> GroupInbox:
        with common.storage_errors():
            item = (
                self._table.get_item(Key=group_key(chat_id), ConsistentRead=True).get("Item") or {}
            )
        return GroupInbox(
            chat_id=chat_id,
            queue_thread=common.as_optional_int(item.get("queue_thread")),
            overview_message_id=common.as_optional_int(item.get("overview_message_id")) or None,
            refreshed_at=common.as_float(item.get("refreshed_at")),
            dirty=bool(item.get("dirty", False)),
            scheduled_at=common.as_float(item.get("scheduled_at")),
        )

    def mark_dirty(self, chat_id: int) -> None:
        self._update(group_key(chat_id), dirty=True)

    def claim_schedule(self, chat_id: int, now: float, stale_after: float) -> bool:
        return common.conditionally(
            lambda: self._table.update_item(
                Key=group_key(chat_id),
                UpdateExpression="SET scheduled_at = :now",
                ConditionExpression=(
                    "attribute_not_exists(scheduled_at) OR scheduled_at = :zero "
                    "OR scheduled_at < :stale"
                ),
                ExpressionAttributeValues={
                    ":now": common.decimal(now),
                    ":zero": 0,
                    ":stale": common.decimal(now - stale_after),
                },
            )
        )

    def clear_schedule(self, chat_id: int) -> None:
        self._update(group_key(chat_id), scheduled_at=0)

    def overview_refreshed(self, chat_id: int, at: float) -> None:
        self._update(group_key(chat_id), dirty=False, refreshed_at=common.decimal(at))

    def set_overview(self, chat_id: int, queue_thread: int, message_id: int | None) -> None:
        self._update(
            group_key(chat_id), queue_thread=queue_thread, overview_message_id=message_id or 0
        )

    def remember_operator(self, chat_id: int, username: str, owner: Owner) -> None:
        key = {"pk": partition(chat_id), "sk": f"OP#{username}"}
        self._update(key, user_id=owner.user_id, name=owner.name)

    def operator_named(self, chat_id: int, username: str) -> Owner | None:
        key = {"pk": partition(chat_id), "sk": f"OP#{username}"}
        with common.storage_errors():
            item = self._table.get_item(Key=key).get("Item")
        if not item:
            return None
        return Owner(common.as_int(item.get("user_id")), str(item.get("name", "")))

    def _update(self, key: dict[str, str], **fields: Any) -> None:
        expression, names, values = common.update_expression(fields)
        with common.storage_errors():
            self._table.update_item(
                Key=key,
                UpdateExpression=expression,
                ExpressionAttributeNames=names,
                ExpressionAttributeValues=values,
            )
