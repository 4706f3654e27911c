"""DynamoDB adapters: sessions, topic index, message map, failure journal, dead letters.

One table (``DATA_TABLE``, keys ``pk``/``sk``, TTL ``expires_at``) holds:

| item            | pk                       | sk        |
|-----------------|--------------------------|-----------|
| session         | ``PERSON#<user>``        | ``SESSION`` |
| topic index     | ``TOPIC#<chat>#<thread>``| ``TOPIC`` |
| ops topic       | ``OPS#<chat>``           | ``OPS``   |
| shard census    | ``SHARD#<chat>``         | ``COUNT`` |
| message map     | ``MSG#<chat>#<message>`` | ``MAP``   |
| failure journal | ``FAIL#<update>``        | ``FAIL``  |
| step record     | ``STEPS#<unit>``         | ``STEPS`` |
| dead letter     | ``DEAD``                 | ``<archive id>`` |

Every access is a key lookup or a query on one partition; nothing scans.
"""

from __future__ import annotations

import json
import time
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from decimal import Decimal
from typing import Any

from botocore.exceptions import BotoCoreError, ClientError

from topicdesk.domain.broadcast import Broadcast
from topicdesk.domain.errors import StorageUnavailable
from topicdesk.domain.model import DeadLetter, MessageRef, Person, Session, SessionStatus
from topicdesk.domain.ports import FailureRecord

MESSAGE_MAP_TTL_SECONDS = 30 * 24 * 3600
FAILURE_TTL_SECONDS = 15 * 24 * 3600  # outlives the DLQ's 14-day retention
DEAD_LETTER_TTL_SECONDS = 30 * 24 * 3600
_SESSION_SK = "SESSION"


def conditional_failed(error: ClientError) -> bool:
    return bool(error.response.get("Error", {}).get("Code") == "ConditionalCheckFailedException")


@contextmanager
def storage_errors() -> Iterator[None]:
    """Turn AWS failures (after boto3's own retries) into the domain's error."""
    try:
        yield
    except ClientError as error:
        code = error.response.get("Error", {}).get("Code", "Unknown")
        raise StorageUnavailable(f"DynamoDB {code}") from error
    except BotoCoreError as error:
        raise StorageUnavailable(f"DynamoDB unreachable: {type(error).__name__}") from error


def conditionally(write: Callable[[], object]) -> bool:
    """Run a conditional write; False when its condition did not hold."""
    try:
        with storage_errors():
            write()
    except StorageUnavailable as error:
        cause = error.__cause__
        if isinstance(cause, ClientError) and conditional_failed(cause):
            return False
        raise
    return True


def _int(value: Any, default: int = 0) -> int:
    return int(value) if isinstance(value, int | Decimal) else default


def _optional_int(value: Any) -> int | None:
    return _int(value) if value is not None else None


def _query_all(table: Any, partition: str, **extra: Any) -> list[dict[str, Any]]:
    """Every item of one partition, page by page."""
    kwargs: dict[str, Any] = {
        "KeyConditionExpression": "pk = :pk",
        "ExpressionAttributeValues": {":pk": partition},
        **extra,
    }
    items: list[dict[str, Any]] = []
    while True:
        with storage_errors():
            page = table.query(**kwargs)
        items.extend(page.get("Items", []))
        if "LastEvaluatedKey" not in page:
            return items
        kwargs["ExclusiveStartKey"] = page["LastEvaluatedKey"]


def _float(value: Any, default: float = 0.0) -> float:
    return float(value) if isinstance(value, int | float | Decimal) else default


def _str(value: Any) -> str | None:
    return value if isinstance(value, str) and value else None


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
        user_id=_int(item["user_id"]),
        first_name=str(item.get("first_name", "")),
        last_name=_str(item.get("last_name")),
        username=_str(item.get("username")),
        language_code=_str(item.get("language_code")),
    )
    return Session(
        person=person,
        operator_chat_id=_int(item["operator_chat_id"]),
        thread_id=_optional_int(item.get("thread_id")),
        status=SessionStatus(item.get("status", SessionStatus.OPEN.value)),
        banned=bool(item.get("banned", False)),
        blocked=bool(item.get("blocked", False)),
        card_posted=bool(item.get("card_posted", False)),
        created_at=_float(item.get("created_at")),
        messages_in=_int(item.get("messages_in")),
        messages_out=_int(item.get("messages_out")),
        dropped=_int(item.get("dropped")),
        slowdown_told_at=_float(item.get("slowdown_told_at")),
    )


def _update_expression(fields: dict[str, Any]) -> tuple[str, dict[str, str], dict[str, Any]]:
    names = {f"#f{i}": name for i, name in enumerate(fields)}
    values = {f":v{i}": value for i, value in enumerate(fields.values())}
    assignments = ", ".join(f"#f{i} = :v{i}" for i in range(len(fields)))
    return f"SET {assignments}", names, values


class DynamoSessionRepository:
    def __init__(self, table: Any) -> None:
        self._table = table

    @staticmethod
    def _key(user_id: int) -> dict[str, str]:
        return {"pk": f"PERSON#{user_id}", "sk": _SESSION_SK}

    def get(self, user_id: int) -> Session | None:
        with storage_errors():
            item = self._table.get_item(Key=self._key(user_id), ConsistentRead=True).get("Item")
        if item is None or "operator_chat_id" not in item:
            return None
        return _session_from_item(item)

    def claim_topic_creation(
        self, person: Person, operator_chat_id: int, owner: str, now: float, lease_seconds: float
    ) -> bool:
        values: dict[str, Any] = {
            ":owner": owner,
            ":until": Decimal(str(round(now + lease_seconds, 3))),
            ":now": Decimal(str(round(now, 3))),
            ":chat": operator_chat_id,
            ":open": SessionStatus.OPEN.value,
            ":false": False,
        }
        person_fields = _person_attributes(person)
        names = {f"#p{i}": name for i, name in enumerate(person_fields)}
        values.update({f":p{i}": value for i, value in enumerate(person_fields.values())})
        person_set = ", ".join(f"#p{i} = :p{i}" for i in range(len(person_fields)))
        return conditionally(
            lambda: self._table.update_item(
                Key=self._key(person.user_id),
                UpdateExpression=(
                    f"SET claim_owner = :owner, claim_until = :until, "
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
                ExpressionAttributeNames={"#status": "status", **names},
                ExpressionAttributeValues=values,
            )
        )

    def release_claim(self, user_id: int, owner: str) -> None:
        conditionally(
            lambda: self._table.update_item(
                Key=self._key(user_id),
                UpdateExpression="REMOVE claim_owner, claim_until",
                ConditionExpression="claim_owner = :owner",
                ExpressionAttributeValues={":owner": owner},
            )
        )

    def attach_topic(self, user_id: int, operator_chat_id: int, thread_id: int, owner: str) -> None:
        with storage_errors():
            self._table.update_item(
                Key=self._key(user_id),
                UpdateExpression=(
                    "SET thread_id = :thread, operator_chat_id = :chat "
                    "REMOVE claim_owner, claim_until"
                ),
                ConditionExpression="claim_owner = :owner",
                ExpressionAttributeValues={
                    ":thread": thread_id,
                    ":chat": operator_chat_id,
                    ":owner": owner,
                },
            )
            self._index_topic(operator_chat_id, thread_id, user_id)
            self._table.put_item(Item={**roster_key(user_id), "user_id": user_id})
            self._table.update_item(
                Key={"pk": f"SHARD#{operator_chat_id}", "sk": "COUNT"},
                UpdateExpression="ADD people :one",
                ExpressionAttributeValues={":one": 1},
            )

    def _index_topic(self, chat_id: int, thread_id: int, user_id: int) -> None:
        self._table.put_item(
            Item={"pk": f"TOPIC#{chat_id}#{thread_id}", "sk": "TOPIC", "user_id": user_id}
        )

    def replace_topic(self, user_id: int, old_thread_id: int, new_thread_id: int) -> None:
        session = self.get(user_id)
        if session is None:
            return
        replaced = conditionally(
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
        with storage_errors():
            self._index_topic(session.operator_chat_id, new_thread_id, user_id)
            self._table.delete_item(
                Key={"pk": f"TOPIC#{session.operator_chat_id}#{old_thread_id}", "sk": "TOPIC"}
            )

    def update(self, user_id: int, **fields: object) -> None:
        flat: dict[str, Any] = {}
        for name, value in fields.items():
            if isinstance(value, Person):
                flat.update(_person_attributes(value))
            elif isinstance(value, SessionStatus):
                flat[name] = value.value
            elif isinstance(value, float):
                flat[name] = Decimal(str(round(value, 3)))
            else:
                flat[name] = value
        if not flat:
            return
        expression, names, values = _update_expression(flat)
        with storage_errors():
            self._table.update_item(
                Key=self._key(user_id),
                UpdateExpression=expression,
                ConditionExpression="attribute_exists(pk)",
                ExpressionAttributeNames=names,
                ExpressionAttributeValues=values,
            )

    def increment(self, user_id: int, counter: str, by: int = 1) -> None:
        with storage_errors():
            self._table.update_item(
                Key=self._key(user_id),
                UpdateExpression="ADD #c :by",
                ConditionExpression="attribute_exists(pk)",
                ExpressionAttributeNames={"#c": counter},
                ExpressionAttributeValues={":by": by},
            )

    def user_for_topic(self, operator_chat_id: int, thread_id: int) -> int | None:
        with storage_errors():
            item = self._table.get_item(
                Key={"pk": f"TOPIC#{operator_chat_id}#{thread_id}", "sk": "TOPIC"}
            ).get("Item")
        return _int(item["user_id"]) if item else None

    def ops_thread(self, operator_chat_id: int) -> int | None:
        with storage_errors():
            item = self._table.get_item(
                Key={"pk": f"OPS#{operator_chat_id}", "sk": "OPS"}, ConsistentRead=True
            ).get("Item")
        return _int(item["thread_id"]) if item else None

    def set_ops_thread(
        self, operator_chat_id: int, thread_id: int, *, replace: bool = False
    ) -> int:
        item = {"pk": f"OPS#{operator_chat_id}", "sk": "OPS", "thread_id": thread_id}
        if replace:
            with storage_errors():
                self._table.put_item(Item=item)
            return thread_id
        if conditionally(
            lambda: self._table.put_item(Item=item, ConditionExpression="attribute_not_exists(pk)")
        ):
            return thread_id
        stored = self.ops_thread(operator_chat_id)
        return stored if stored is not None else thread_id

    def count_by_operator_chat(self, operator_chat_ids: Sequence[int]) -> dict[int, int]:
        counts: dict[int, int] = {}
        for chat_id in operator_chat_ids:
            with storage_errors():
                item = self._table.get_item(Key={"pk": f"SHARD#{chat_id}", "sk": "COUNT"}).get(
                    "Item"
                )
            counts[chat_id] = _int(item.get("people")) if item else 0
        return counts


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
        if item is None or _int(item.get("expires_at")) < int(time.time()):
            return None  # TTL deletion lags; an expired link is treated as gone
        return MessageRef(_int(item["peer_chat_id"]), _int(item["peer_message_id"]))


class DynamoFailureJournal:
    def __init__(self, table: Any) -> None:
        self._table = table

    def record(self, update_id: int, reason: str, now: float) -> int:
        with storage_errors():
            answer = self._table.update_item(
                Key={"pk": f"FAIL#{update_id}", "sk": "FAIL"},
                UpdateExpression=(
                    "SET reason = :reason, last_failure_at = :now, expires_at = :expires, "
                    "first_failure_at = if_not_exists(first_failure_at, :now) "
                    "ADD failures :one"
                ),
                ExpressionAttributeValues={
                    ":reason": reason[:1000],
                    ":now": Decimal(str(round(now, 3))),
                    ":expires": int(now) + FAILURE_TTL_SECONDS,
                    ":one": 1,
                },
                ReturnValues="UPDATED_NEW",
            )
        return _int(answer["Attributes"].get("failures"), 1)

    def get(self, update_id: int) -> FailureRecord | None:
        with storage_errors():
            item = self._table.get_item(Key={"pk": f"FAIL#{update_id}", "sk": "FAIL"}).get("Item")
        if item is None:
            return None
        return FailureRecord(
            reason=str(item.get("reason", "")),
            first_failure_at=_float(item.get("first_failure_at")),
            last_failure_at=_float(item.get("last_failure_at")),
            failures=_int(item.get("failures")),
        )

    def clear(self, update_id: int) -> None:
        with storage_errors():
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
        with storage_errors():
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
        expression, names, values = _update_expression(fields)
        with storage_errors():
            self._table.update_item(
                Key=self._key(key),
                UpdateExpression=expression,
                ExpressionAttributeNames=names,
                ExpressionAttributeValues=values,
            )


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
            "first_failure_at": Decimal(str(round(dead.first_failure_at, 3))),
            "last_failure_at": Decimal(str(round(dead.last_failure_at, 3))),
            "sent_at": Decimal(str(round(dead.sent_at, 3))),
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
        return conditionally(
            lambda: self._table.put_item(Item=item, ConditionExpression="attribute_not_exists(sk)")
        )

    @staticmethod
    def _from_item(item: dict[str, Any]) -> DeadLetter:
        extra = item.get("extra") or {}
        return DeadLetter(
            archive_id=str(item["sk"]),
            body=str(item.get("body", "")),
            update_id=_optional_int(item.get("update_id")),
            chat_id=_optional_int(item.get("chat_id")),
            reason=str(item.get("reason", "")),
            receive_count=_int(item.get("receive_count")),
            first_failure_at=_float(item.get("first_failure_at")),
            last_failure_at=_float(item.get("last_failure_at")),
            sent_at=_float(item.get("sent_at")),
            group_id=_str(item.get("group_id")),
            notified=bool(item.get("notified", False)),
            extra={str(k): str(v) for k, v in extra.items()},
        )

    def get(self, archive_id: str) -> DeadLetter | None:
        with storage_errors():
            item = self._table.get_item(
                Key={"pk": self._PK, "sk": archive_id}, ConsistentRead=True
            ).get("Item")
        return self._from_item(item) if item else None

    def mark_notified(self, archive_id: str) -> bool:
        return conditionally(
            lambda: self._table.update_item(
                Key={"pk": self._PK, "sk": archive_id},
                UpdateExpression="SET notified = :true",
                ConditionExpression="attribute_exists(sk) AND notified = :false",
                ExpressionAttributeValues={":true": True, ":false": False},
            )
        )

    def list(self) -> list[DeadLetter]:
        return [self._from_item(item) for item in _query_all(self._table, self._PK)]

    def delete(self, archive_id: str) -> None:
        with storage_errors():
            self._table.delete_item(Key={"pk": self._PK, "sk": archive_id})


ROSTER_PARTITIONS = 10


def roster_key(user_id: int) -> dict[str, str]:
    return {"pk": f"PEOPLE#{user_id % ROSTER_PARTITIONS}", "sk": str(user_id)}


class DynamoRoster:
    """Everyone with a session, spread over a few partitions so a broadcast can list them
    with a handful of queries (never a scan)."""

    def __init__(self, table: Any) -> None:
        self._table = table

    def add(self, user_id: int) -> None:
        with storage_errors():
            self._table.put_item(Item={**roster_key(user_id), "user_id": user_id})

    def people(self) -> list[int]:
        return sorted(
            _int(item["user_id"])
            for partition in range(ROSTER_PARTITIONS)
            for item in _query_all(
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
            "requested_at": Decimal(str(round(broadcast.requested_at, 3))),
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
        with storage_errors():
            self._table.put_item(Item=item)

    @staticmethod
    def _from_item(broadcast_id: str, item: dict[str, Any]) -> Broadcast:
        return Broadcast(
            broadcast_id=broadcast_id,
            chat_id=_int(item["chat_id"]),
            thread_id=_optional_int(item.get("thread_id")),
            source_message_id=_optional_int(item.get("source_message_id")),
            text=_str(item.get("text")),
            status=str(item.get("status", "pending")),
            requested_at=_float(item.get("requested_at")),
            total=_int(item.get("total")),
            delivered=_int(item.get("delivered")),
            blocked=_int(item.get("blocked")),
            failed=_int(item.get("failed")),
            progress_posted=_int(item.get("progress_posted")),
        )

    def get(self, broadcast_id: str) -> Broadcast | None:
        with storage_errors():
            item = self._table.get_item(Key=self._key(broadcast_id), ConsistentRead=True).get(
                "Item"
            )
        return self._from_item(broadcast_id, item) if item else None

    def start(self, broadcast_id: str, total: int) -> bool:
        return conditionally(
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
        with storage_errors():
            answer = self._table.update_item(
                Key=self._key(broadcast_id),
                UpdateExpression="ADD #outcome :one",
                ExpressionAttributeNames={"#outcome": outcome},
                ExpressionAttributeValues={":one": 1},
                ReturnValues="ALL_NEW",
            )
        return self._from_item(broadcast_id, answer["Attributes"])

    def advance_progress(self, broadcast_id: str, step: int) -> bool:
        return conditionally(
            lambda: self._table.update_item(
                Key=self._key(broadcast_id),
                UpdateExpression="SET progress_posted = :step",
                ConditionExpression="progress_posted < :step",
                ExpressionAttributeValues={":step": step},
            )
        )
