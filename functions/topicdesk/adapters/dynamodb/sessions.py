"""Sessions (person -> operators' topic), the topic index, the ops topic, the shard census and
the broadcast roster.

Expiry: a session expires (TTL ``expires_at``) after ``retention_seconds`` without activity
(claimed, a topic attached, a message counted). Its topic index and roster entry expire a day
after it at the latest: they are moved forward only when the session has outrun them (at most
one extra pair of writes per person per day of activity, none on the common path).
"""

from __future__ import annotations

import time
from collections.abc import Callable, Sequence
from functools import partial
from typing import Any, Unpack

from topicdesk.adapters.dynamodb import common
from topicdesk.contract import DATA_TABLE
from topicdesk.domain.model import COUNT_MARKS, Person, Session, SessionStatus
from topicdesk.domain.ports import CountAlso

_SESSION_SK = "SESSION"
_TTL = DATA_TABLE.ttl_attribute
ROSTER_PARTITIONS = 10
DEFAULT_RETENTION_SECONDS = 365 * 86400
BELONGINGS_SLACK_SECONDS = 86400
"""How far the topic index and roster entry are kept past the session's own expiry."""


def person_partition(user_id: int) -> str:
    """The person's partition: the session, and everything else stored per person (see
    ``topicdesk.adapters.dynamodb.erasure``)."""
    return f"PERSON#{user_id}"


def topic_key(chat_id: int, thread_id: int) -> dict[str, str]:
    return {"pk": f"TOPIC#{chat_id}#{thread_id}", "sk": "TOPIC"}


def shard_key(chat_id: int) -> dict[str, str]:
    return {"pk": f"SHARD#{chat_id}", "sk": "COUNT"}


def roster_key(user_id: int) -> dict[str, str]:
    """Everyone with a session, spread over a few partitions (a broadcast lists them with a
    handful of queries, never a scan)."""
    return {"pk": f"PEOPLE#{user_id % ROSTER_PARTITIONS}", "sk": str(user_id)}


def session_key(user_id: int) -> dict[str, str]:
    return {"pk": person_partition(user_id), "sk": _SESSION_SK}


def _person_attributes(person: Person) -> dict[str, Any]:
    return {
        "user_id": person.user_id,
        "first_name": person.first_name,
        "last_name": person.last_name or "",
        "username": person.username or "",
        "language_code": person.language_code or "",
    }


def _session_from_item(item: dict[str, Any]) -> Session:
    person = Person(
        user_id=common.as_int(item["user_id"]),
        first_name=str(item.get("first_name", "")),
        last_name=common.as_str(item.get("last_name")),
        username=common.as_str(item.get("username")),
        language_code=common.as_str(item.get("language_code")),
    )
    return Session(
        person=person,
        operator_chat_id=common.as_int(item["operator_chat_id"]),
        thread_id=common.as_optional_int(item.get("thread_id")),
        status=SessionStatus(item.get("status", SessionStatus.OPEN.value)),
        banned=bool(item.get("banned", False)),
        blocked=bool(item.get("blocked", False)),
        card_posted=bool(item.get("card_posted", False)),
        created_at=common.as_float(item.get("created_at")),
        messages_in=common.as_int(item.get("messages_in")),
        messages_out=common.as_int(item.get("messages_out")),
        dropped=common.as_int(item.get("dropped")),
        slowdown_told_at=common.as_float(item.get("slowdown_told_at")),
        relayed_up_to=common.as_optional_int(item.get("relayed_up_to")),
        answered_up_to=common.as_optional_int(item.get("answered_up_to")),
        relayed_run=tuple(common.as_int(i) for i in item.get("relayed_run") or ()),
        answered_run=tuple(common.as_int(i) for i in item.get("answered_run") or ()),
        pace_tat=common.as_float(item.get("pace_tat")) or None,
    )


class DynamoSessionRepository:
    def __init__(
        self,
        table: Any,
        retention_seconds: int = DEFAULT_RETENTION_SECONDS,
        clock: Callable[[], float] = time.time,
    ) -> None:
        self._table = table
        self._retention = retention_seconds
        self._clock = clock

    @staticmethod
    def _key(user_id: int) -> dict[str, str]:
        return session_key(user_id)

    def _expiry(self) -> int:
        """When a session active now expires (epoch seconds, DynamoDB's TTL)."""
        return int(self._clock()) + self._retention

    def get(self, user_id: int) -> Session | None:
        with common.storage_errors():
            item = self._table.get_item(Key=self._key(user_id), ConsistentRead=True).get("Item")
        if item is None or "operator_chat_id" not in item:
            return None
        return _session_from_item(item)

    def claim_topic_creation(
        self, person: Person, operator_chat_id: int, owner: str, now: float, lease_seconds: float
    ) -> bool:
        values: dict[str, Any] = {
            ":owner": owner,
            ":until": common.decimal(now + lease_seconds),
            ":now": common.decimal(now),
            ":chat": operator_chat_id,
            ":open": SessionStatus.OPEN.value,
            ":false": False,
            ":expires": self._expiry(),
        }
        person_fields = _person_attributes(person)
        names = {f"#p{i}": name for i, name in enumerate(person_fields)}
        values.update({f":p{i}": value for i, value in enumerate(person_fields.values())})
        person_set = ", ".join(f"#p{i} = :p{i}" for i in range(len(person_fields)))
        return common.conditionally(
            lambda: self._table.update_item(
                Key=self._key(person.user_id),
                UpdateExpression=(
                    "SET claim_owner = :owner, claim_until = :until, #ttl = :expires, "
                    f"operator_chat_id = :chat, {person_set}, "
                    "created_at = if_not_exists(created_at, :now), "
                    "#status = if_not_exists(#status, :open), "
                    "banned = if_not_exists(banned, :false), "
                    "blocked = if_not_exists(blocked, :false), "
                    "card_posted = :false"
                ),
                ConditionExpression=(
                    "attribute_not_exists(thread_id) AND (attribute_not_exists(claim_until)"
                    " OR claim_until < :now OR claim_owner = :owner)"
                ),
                ExpressionAttributeNames={"#status": "status", "#ttl": _TTL, **names},
                ExpressionAttributeValues=values,
            )
        )

    def release_claim(self, user_id: int, owner: str) -> None:
        common.conditionally(
            lambda: self._table.update_item(
                Key=self._key(user_id),
                UpdateExpression="REMOVE claim_owner, claim_until",
                ConditionExpression="claim_owner = :owner",
                ExpressionAttributeValues={":owner": owner},
            )
        )

    def attach_topic(
        self, user_id: int, operator_chat_id: int, thread_id: int, owner: str
    ) -> Session:
        expires = self._expiry()
        linked = expires + BELONGINGS_SLACK_SECONDS
        with common.storage_errors():
            answer = self._table.update_item(
                Key=self._key(user_id),
                # answered_up_to: a topic made from now on has had no answer (a session
                # without the mark is older than it: its first answer asks the message map).
                UpdateExpression=(
                    "SET thread_id = :thread, operator_chat_id = :chat, #ttl = :expires, "
                    "linked_until = :linked, "
                    "answered_up_to = if_not_exists(answered_up_to, :none) "
                    "REMOVE claim_owner, claim_until"
                ),
                ConditionExpression="claim_owner = :owner",
                ExpressionAttributeNames={"#ttl": _TTL},
                ExpressionAttributeValues={
                    ":thread": thread_id,
                    ":chat": operator_chat_id,
                    ":owner": owner,
                    ":expires": expires,
                    ":linked": linked,
                    ":none": 0,
                },
                ReturnValues="ALL_NEW",  # the caller needs the session: no read after
            )
            belongings = {"user_id": user_id, _TTL: linked}
            with self._table.batch_writer() as batch:  # the topic index and roster: one call
                batch.put_item(Item={**topic_key(operator_chat_id, thread_id), **belongings})
                batch.put_item(Item={**roster_key(user_id), **belongings})
            self._table.update_item(
                Key=shard_key(operator_chat_id),
                UpdateExpression="ADD people :one",
                ExpressionAttributeValues={":one": 1},
            )
        return _session_from_item(answer["Attributes"])

    def _index_topic(self, chat_id: int, thread_id: int, user_id: int, expires: int) -> None:
        self._table.put_item(
            Item={**topic_key(chat_id, thread_id), "user_id": user_id, _TTL: expires}
        )

    def _keep_belongings(self, item: dict[str, Any], expires: int) -> None:
        """The session was just moved to expire at ``expires``: keep its topic index and roster
        entry at least as long (only when it outran them; never recreating a deleted one)."""
        if common.as_int(item.get("linked_until")) >= expires or "thread_id" not in item:
            return
        linked = expires + BELONGINGS_SLACK_SECONDS
        user_id = common.as_int(item["user_id"])
        chat, thread = common.as_int(item["operator_chat_id"]), common.as_int(item["thread_id"])
        for key, attribute in (
            (roster_key(user_id), _TTL),
            (topic_key(chat, thread), _TTL),
            (self._key(user_id), "linked_until"),  # last: a failure above is retried next time
        ):
            common.conditionally(
                partial(
                    self._table.update_item,
                    Key=key,
                    UpdateExpression="SET #a = :linked",
                    ConditionExpression="attribute_exists(pk)",
                    ExpressionAttributeNames={"#a": attribute},
                    ExpressionAttributeValues={":linked": linked},
                )
            )

    def replace_topic(self, user_id: int, old_thread_id: int, new_thread_id: int) -> None:
        session = self.get(user_id)
        if session is None:
            return
        replaced = common.conditionally(
            lambda: self._table.update_item(
                Key=self._key(user_id),
                UpdateExpression="SET thread_id = :new, #status = :open",
                ConditionExpression="thread_id = :old",
                ExpressionAttributeNames={"#status": "status"},
                ExpressionAttributeValues={
                    ":new": new_thread_id,
                    ":old": old_thread_id,
                    ":open": SessionStatus.OPEN.value,
                },
            )
        )
        if not replaced:
            return  # someone already pointed it elsewhere
        linked = self._expiry() + BELONGINGS_SLACK_SECONDS
        with common.storage_errors():
            self._index_topic(session.operator_chat_id, new_thread_id, user_id, linked)
            self._table.delete_item(Key=topic_key(session.operator_chat_id, old_thread_id))

    def update(self, user_id: int, **fields: object) -> None:
        flat: dict[str, Any] = {}
        for name, value in fields.items():
            if isinstance(value, Person):
                flat.update(_person_attributes(value))
            elif isinstance(value, SessionStatus):
                flat[name] = value.value
            elif isinstance(value, float):
                flat[name] = common.decimal(value)
            else:
                flat[name] = value
        if not flat:
            return
        expression, names, values = common.update_expression(flat)
        with common.storage_errors():
            self._table.update_item(
                Key=self._key(user_id),
                UpdateExpression=expression,
                ConditionExpression="attribute_exists(pk)",
                ExpressionAttributeNames=names,
                ExpressionAttributeValues=values,
            )

    def increment(self, user_id: int, counter: str, by: int = 1, **also: Unpack[CountAlso]) -> None:
        """Count a message; activity: the session's expiry moves forward too (and, riding on
        the same write, the counter's mark: the newest message handled; and the pace)."""
        run, pace = also.get("run"), also.get("pace")
        expires = self._expiry()
        values: dict[str, Any] = {":by": by, ":expires": expires}
        sets = ""
        if run:
            mark, ids = COUNT_MARKS[counter]
            values.update({":up_to": max(run), ":run": list(run)})
            sets = f", {mark} = :up_to, {ids} = :run"
        if pace is not None:
            values[":pace"] = common.decimal(pace)
            sets += ", pace_tat = :pace"
        with common.storage_errors():
            answer = self._table.update_item(
                Key=self._key(user_id),
                UpdateExpression=f"SET #ttl = :expires{sets} ADD #c :by",
                ConditionExpression="attribute_exists(pk)",
                ExpressionAttributeNames={"#c": counter, "#ttl": _TTL},
                ExpressionAttributeValues=values,
                ReturnValues="ALL_NEW",
            )
        self._keep_belongings(answer.get("Attributes", {}), expires)

    def user_for_topic(self, operator_chat_id: int, thread_id: int) -> int | None:
        with common.storage_errors():
            item = self._table.get_item(Key=topic_key(operator_chat_id, thread_id)).get("Item")
        return common.as_int(item["user_id"]) if item else None

    def ops_thread(self, operator_chat_id: int) -> int | None:
        with common.storage_errors():
            item = self._table.get_item(
                Key={"pk": f"OPS#{operator_chat_id}", "sk": "OPS"}, ConsistentRead=True
            ).get("Item")
        return common.as_int(item["thread_id"]) if item else None

    def set_ops_thread(
        self, operator_chat_id: int, thread_id: int, *, replace: bool = False
    ) -> int:
        item = {"pk": f"OPS#{operator_chat_id}", "sk": "OPS", "thread_id": thread_id}
        if replace:
            with common.storage_errors():
                self._table.put_item(Item=item)
            return thread_id
        if common.conditionally(
            lambda: self._table.put_item(Item=item, ConditionExpression="attribute_not_exists(pk)")
        ):
            return thread_id
        stored = self.ops_thread(operator_chat_id)
        return stored if stored is not None else thread_id

    def count_by_operator_chat(self, operator_chat_ids: Sequence[int]) -> dict[int, int]:
        counts: dict[int, int] = {}
        for chat_id in operator_chat_ids:
            with common.storage_errors():
                item = self._table.get_item(Key=shard_key(chat_id)).get("Item")
            counts[chat_id] = common.as_int(item.get("people")) if item else 0
        return counts
