"""Erasing one person (``topicdesk.domain.ports.PersonData``): every item is found by key or
by a query on one partition, never a scan.

- the person's partition ``PERSON#<user>``: the session, and a pointer per message map link
  (``topicdesk.adapters.dynamodb.messages``) to the two map items it stands for; anything else
  stored there is erased too (counted as ``other``);
- the topic index, roster entry and the inbox's conversation record (``INBOX#<chat>`` /
  ``CONV#<user>``), from the session's own keys;
- dead letters: the archive's one partition (``DEAD``), matched by the domain; each with its
  failure journal (``FAIL#<update>``) and step records (``STEPS#dead#<id>``,
  ``STEPS#update#<update>``);
- the shared limiter's keys about the person (``topicdesk.adapters.rate_limiter.person_keys``).

Deletes go out with BatchWriteItem (boto3's batch writer, which resends unprocessed items),
page by page. The anchors (session, topic index, roster, the group's census) go last, in one
transaction, so a retry after any failure still finds the person and does the rest.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from botocore.exceptions import ClientError

from topicdesk.adapters.dynamodb import common
from topicdesk.adapters.dynamodb.dead_letters import DynamoDeadLetterArchive
from topicdesk.adapters.dynamodb.inbox import conversation_key
from topicdesk.adapters.dynamodb.messages import MAP_PREFIX, MAP_SK, map_key
from topicdesk.adapters.dynamodb.sessions import (
    person_partition,
    roster_key,
    session_key,
    shard_key,
    topic_key,
)
from topicdesk.adapters.dynamodb.widget import DynamoWidgetConversations
from topicdesk.adapters.rate_limiter import person_keys
from topicdesk.domain.errors import StorageUnavailable
from topicdesk.domain.model import DeadLetter, MessageRef, is_visitor_id

Key = dict[str, str]


class DynamoPersonData:
    def __init__(self, table: Any, limits_table: Any) -> None:
        self._table = table
        self._limits = limits_table

    # ------------------------------------------------------------------ reading

    def _get(self, key: Key) -> dict[str, Any] | None:
        with common.storage_errors():
            item: dict[str, Any] | None = self._table.get_item(Key=key, ConsistentRead=True).get(
                "Item"
            )
        return item

    def _session(self, user_id: int) -> dict[str, Any] | None:
        return self._get(session_key(user_id))

    @staticmethod
    def _topic(session: dict[str, Any] | None) -> tuple[int, int] | None:
        if session is None or "thread_id" not in session or "operator_chat_id" not in session:
            return None
        return common.as_int(session["operator_chat_id"]), common.as_int(session["thread_id"])

    def topics_of(self, user_id: int) -> list[tuple[int, int]]:
        topic = self._topic(self._session(user_id))
        return [topic] if topic else []

    # ------------------------------------------------------------------ belongings

    def _delete(self, keys: Iterable[Key]) -> None:
        with (
            common.storage_errors(),
            self._table.batch_writer(overwrite_by_pkeys=["pk", "sk"]) as batch,
        ):
            for key in keys:
                batch.delete_item(Key=key)

    def erase_belongings(self, user_id: int) -> dict[str, int]:
        counts = {"message_links": 0, "other": 0, "limiter_keys": 0, "inbox": 0}
        topic = self._topic(self._session(user_id))
        if topic is not None:  # the inbox's record of their conversation, in the group's
            counts["inbox"] = self._delete_one(self._table, conversation_key(topic[0], user_id))
        query: dict[str, Any] = {
            "KeyConditionExpression": "pk = :pk",
            "ExpressionAttributeValues": {":pk": person_partition(user_id)},
            "ConsistentRead": True,
        }
        own = session_key(user_id)["sk"]
        while True:
            with common.storage_errors():
                page = self._table.query(**query)
            items = [item for item in page.get("Items", []) if item["sk"] != own]
            maps: list[Key] = []
            for item in items:
                sk = str(item["sk"])
                if sk.startswith(MAP_PREFIX):
                    counts["message_links"] += 1
                    peer = MessageRef(
                        common.as_int(item.get("peer_chat_id")),
                        common.as_int(item.get("peer_message_id")),
                    )
                    maps += [{"pk": sk, "sk": MAP_SK}, map_key(peer)]  # both directions
                else:
                    counts["other"] += 1
            self._delete(maps)  # the map items first: their pointers lead a retry to them
            self._delete({"pk": str(item["pk"]), "sk": str(item["sk"])} for item in items)
            if "LastEvaluatedKey" not in page:
                break
            query["ExclusiveStartKey"] = page["LastEvaluatedKey"]
        for key in person_keys(user_id):
            counts["limiter_keys"] += self._delete_one(self._limits, {"pk": key})
        if is_visitor_id(user_id):  # a web visitor: their widget conversation too
            counts["widget_items"] = DynamoWidgetConversations(self._table).erase_visitor(user_id)
        return counts

    @staticmethod
    def _delete_one(table: Any, key: Key) -> int:
        """1 if the item was there."""
        with common.storage_errors():
            old = table.delete_item(Key=key, ReturnValues="ALL_OLD")
        return 1 if old.get("Attributes") else 0

    # ------------------------------------------------------------------ dead letters

    def dead_letters(self) -> list[DeadLetter]:
        return DynamoDeadLetterArchive(self._table).list()

    def erase_dead_letter(self, dead: DeadLetter) -> None:
        # The step-record keys as the DLQ processor (``dead#``) and the worker (``update#``)
        # name their units of work.
        keys = [{"pk": f"STEPS#dead#{dead.archive_id}", "sk": "STEPS"}]
        if dead.update_id is not None:
            keys += [
                {"pk": f"FAIL#{dead.update_id}", "sk": "FAIL"},
                {"pk": f"STEPS#update#{dead.update_id}", "sk": "STEPS"},
            ]
        self._delete([*keys, {"pk": "DEAD", "sk": dead.archive_id}])

    # ------------------------------------------------------------------ anchors

    def anchors(self, user_id: int) -> dict[str, int]:
        session = self._session(user_id)
        topic = self._topic(session)
        return {
            "session": 1 if session else 0,
            "topic_index": 1 if topic and self._get(topic_key(*topic)) else 0,
            "roster": 1 if self._get(roster_key(user_id)) else 0,
        }

    def erase_anchors(self, user_id: int) -> dict[str, int]:
        found = self.anchors(user_id)
        session = self._session(user_id)
        if session is None:
            self._delete([roster_key(user_id)])  # a stray one (the session expired)
            return {"roster": found["roster"]}
        topic = self._topic(session)
        table = self._table.name
        actions: list[dict[str, Any]] = [
            {
                "Delete": {
                    "TableName": table,
                    "Key": session_key(user_id),
                    "ConditionExpression": "attribute_exists(pk)",
                }
            },
            {"Delete": {"TableName": table, "Key": roster_key(user_id)}},
        ]
        if topic is not None:
            chat_id, thread_id = topic
            actions += [
                {"Delete": {"TableName": table, "Key": topic_key(chat_id, thread_id)}},
                {  # attach_topic counted the person in; the same transaction counts them out
                    "Update": {
                        "TableName": table,
                        "Key": shard_key(chat_id),
                        "UpdateExpression": "ADD people :minus",
                        "ExpressionAttributeValues": {":minus": -1},
                    }
                },
            ]
        try:  # the resource's client: plain Python values, as with the table
            with common.storage_errors():
                self._table.meta.client.transact_write_items(TransactItems=actions)
        except StorageUnavailable as error:
            if not _session_was_gone(error):
                raise
            return {}  # another erase removed it meanwhile
        return found


def _session_was_gone(error: StorageUnavailable) -> bool:
    """The transaction was cancelled because its first item (the session) no longer exists."""
    cause = error.__cause__
    if not isinstance(cause, ClientError):
        return False
    reasons = cause.response.get("CancellationReasons") or []
    return bool(reasons) and reasons[0].get("Code") == "ConditionalCheckFailed"
