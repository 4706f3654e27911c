"""The web widget's sessions, connections and conversations in the data table.

| item                | pk                     | sk                   |
|---------------------|------------------------|----------------------|
| connection          | ``WCONN#<connection>`` | ``CONN``             |
| session             | ``WSESS#<session>``    | ``META``             |
| session connection  | ``WSESS#<session>``    | ``CONN#<connection>``|
| visitor message     | ``WSESS#<session>``    | ``MSG#V#<client id>``|
| operator message    | ``WSESS#<session>``    | ``MSG#O#<id>``       |
| visitor's user id   | ``WVISITOR#<user id>`` | ``SESSION``          |

Messages are keyed by their id (the conditional put that makes a resend harmless) and ordered
by ``seq``, a counter on the session item that every message increments (which also moves the
session's expiry). A session's partition is one conversation: reading it whole is cheap.

Everything has a TTL: the session item ``WIDGET_SESSION_SECONDS`` after the last message,
each message the same span after its own time (the visible history is the last 30 days),
connections ``CONNECTION_SECONDS`` (API Gateway closes every connection after two hours).
Reads treat expired items as gone (DynamoDB's TTL deletion lags by up to days).
"""

from __future__ import annotations

from functools import partial
from typing import Any

from topicdesk.adapters.dynamodb import common
from topicdesk.contract import WIDGET_SESSION_SECONDS
from topicdesk.domain.widget import (
    CONNECTION_SECONDS,
    PageInfo,
    Sender,
    WidgetConnection,
    WidgetMessage,
    WidgetSession,
)

_META = "META"
_MESSAGES = "MSG#"
_CONNECTIONS = "CONN#"
_PREFIX = {"visitor": "MSG#V#", "operator": "MSG#O#"}


def _session_pk(session_id: str) -> str:
    return f"WSESS#{session_id}"


def _visitor_key(user_id: int) -> dict[str, str]:
    return {"pk": f"WVISITOR#{user_id}", "sk": "SESSION"}


def _connection_key(connection_id: str) -> dict[str, str]:
    return {"pk": f"WCONN#{connection_id}", "sk": "CONN"}


def _message_from_item(item: dict[str, Any]) -> WidgetMessage:
    operator = str(item["sk"]).startswith(_PREFIX["operator"])
    sender: Sender = "operator" if operator else "visitor"
    return WidgetMessage(
        id=str(item["message_id"]),
        sender=sender,
        text=str(item.get("text", "")),
        ts=common.as_int(item.get("ts")),
        pending=bool(item.get("pending", False)),
    )


class DynamoWidgetConversations:
    def __init__(self, table: Any) -> None:
        self._table = table

    # ------------------------------------------------------------------ connections

    def open_connection(self, connection_id: str, project: str, now: float) -> None:
        with common.storage_errors():
            self._table.put_item(
                Item={
                    **_connection_key(connection_id),
                    "project": project,
                    "connected_at": common.decimal(now),
                    "expires_at": int(now) + CONNECTION_SECONDS,
                }
            )

    def connection(self, connection_id: str) -> WidgetConnection | None:
        item = self._read(_connection_key(connection_id))
        if item is None:
            return None
        return WidgetConnection(
            connection_id=connection_id,
            project=str(item.get("project", "")),
            session_id=common.as_str(item.get("session_id")),
            page=PageInfo.from_body(item.get("page")),
        )

    def drop_connection(self, connection_id: str) -> None:
        connection = self.connection(connection_id)
        session_id = connection.session_id if connection is not None else None
        with common.storage_errors():
            if session_id is not None:
                self._table.delete_item(
                    Key={"pk": _session_pk(session_id), "sk": f"{_CONNECTIONS}{connection_id}"}
                )
            self._table.delete_item(Key=_connection_key(connection_id))

    def bind(
        self, connection_id: str, session_id: str, now: float, page: PageInfo | None = None
    ) -> None:
        expires = int(now) + CONNECTION_SECONDS
        with common.storage_errors():
            self._table.update_item(
                Key=_connection_key(connection_id),
                UpdateExpression="SET session_id = :session, expires_at = :expires, page = :page",
                ExpressionAttributeValues={
                    ":session": session_id,
                    ":expires": expires,
                    ":page": (page or PageInfo()).to_body(),
                },
            )
            self._table.put_item(
                Item={
                    "pk": _session_pk(session_id),
                    "sk": f"{_CONNECTIONS}{connection_id}",
                    "connection_id": connection_id,
                    "expires_at": expires,
                }
            )

    def connections(self, session_id: str, now: float) -> list[str]:
        items = self._partition(session_id, _CONNECTIONS)
        # A connection whose TTL passed is gone, deleted yet or not.
        return [str(item["connection_id"]) for item in items if _expires(item) >= now]

    # ------------------------------------------------------------------ sessions

    def start_session(self, session_id: str, project: str, now: float) -> None:
        common.conditionally(  # a retried hello must not reset the session
            lambda: self._table.put_item(
                Item={
                    "pk": _session_pk(session_id),
                    "sk": _META,
                    "project": project,
                    "created_at": common.decimal(now),
                    "last_message_at": common.decimal(now),
                    "seq": 0,
                    "expires_at": int(now) + WIDGET_SESSION_SECONDS,
                },
                ConditionExpression="attribute_not_exists(pk)",
            )
        )

    def session(self, session_id: str, now: float) -> WidgetSession | None:
        item = self._read({"pk": _session_pk(session_id), "sk": _META})
        if item is None or _expires(item) < now:  # TTL deletes lag: expired is gone already
            return None
        return _session_from_item(session_id, item)

    # ------------------------------------------------------------------ messages

    def accept_visitor(self, session_id: str, message: WidgetMessage, now: float) -> bool:
        key = {"pk": _session_pk(session_id), "sk": f"{_PREFIX['visitor']}{message.id}"}
        with common.storage_errors():
            known = self._table.get_item(Key=key, ConsistentRead=True).get("Item")
        if known is not None:
            return not bool(known.get("queued", False))
        # A concurrent resend of the same id that wins the put enqueues it itself.
        return self._put_message(session_id, key, message, now, {"queued": False})

    def confirm_queued(self, session_id: str, message_id: str) -> None:
        with common.storage_errors():
            self._table.update_item(
                Key={"pk": _session_pk(session_id), "sk": f"{_PREFIX['visitor']}{message_id}"},
                UpdateExpression="SET queued = :true",
                ExpressionAttributeValues={":true": True},
            )

    def record_operator(
        self, session_id: str, message: WidgetMessage, *, pushed: bool, now: float
    ) -> bool:
        key = {"pk": _session_pk(session_id), "sk": f"{_PREFIX['operator']}{message.id}"}
        return self._put_message(session_id, key, message, now, {"pending": not pushed})

    def history(self, session_id: str, limit: int = 200) -> list[WidgetMessage]:
        items = sorted(self._partition(session_id, _MESSAGES), key=_seq)
        return [_message_from_item(item) for item in items[-limit:]] if limit > 0 else []

    def take_pending(self, session_id: str) -> list[WidgetMessage]:
        items = sorted(
            (
                item
                for item in self._partition(session_id, _PREFIX["operator"])
                if item.get("pending")
            ),
            key=_seq,
        )
        taken: list[WidgetMessage] = []
        for item in items:
            key: dict[str, str] = {"pk": item["pk"], "sk": item["sk"]}
            if common.conditionally(partial(self._mark_delivered, key)):
                taken.append(_message_from_item(item))
        return taken

    # ------------------------------------------------------------------ the relay's id

    def remember_visitor(self, user_id: int, session_id: str, now: float) -> None:
        with common.storage_errors():
            self._table.put_item(
                Item={
                    **_visitor_key(user_id),
                    "session_id": session_id,
                    "expires_at": int(now) + WIDGET_SESSION_SECONDS,
                }
            )

    def visitor_session(self, user_id: int) -> str | None:
        with common.storage_errors():
            item = self._table.get_item(Key=_visitor_key(user_id)).get("Item")
        return common.as_str(item.get("session_id")) if item else None

    def erase_visitor(self, user_id: int) -> int:
        """Delete a visitor's whole widget conversation (the session's partition: messages,
        connections, the session itself) and their id item, for an erase (/forget): how
        many items there were. The edge then treats their token's session as unknown."""
        session_id = self.visitor_session(user_id)
        items = (
            common.query_all(self._table, _session_pk(session_id), ConsistentRead=True)
            if session_id is not None
            else []
        )
        keys = [{"pk": str(item["pk"]), "sk": str(item["sk"])} for item in items]
        with common.storage_errors(), self._table.batch_writer() as batch:
            for key in [*keys, _visitor_key(user_id)]:
                batch.delete_item(Key=key)
        return len(keys)

    # ------------------------------------------------------------------ helpers

    def _read(self, key: dict[str, str]) -> dict[str, Any] | None:
        with common.storage_errors():
            item: dict[str, Any] | None = self._table.get_item(Key=key, ConsistentRead=True).get(
                "Item"
            )
        return item

    def _mark_delivered(self, key: dict[str, str]) -> None:
        self._table.update_item(
            Key=key,
            UpdateExpression="SET pending = :false",
            ConditionExpression="pending = :true",
            ExpressionAttributeValues={":true": True, ":false": False},
        )

    def _partition(self, session_id: str, prefix: str) -> list[dict[str, Any]]:
        return common.query_all(
            self._table,
            _session_pk(session_id),
            KeyConditionExpression="pk = :pk AND begins_with(sk, :prefix)",
            ExpressionAttributeValues={":pk": _session_pk(session_id), ":prefix": prefix},
            ConsistentRead=True,
        )

    def _next_seq(self, session_id: str, now: float) -> int:
        """Count the message on the session item (its order) and move the session's expiry."""
        with common.storage_errors():
            answer = self._table.update_item(
                Key={"pk": _session_pk(session_id), "sk": _META},
                UpdateExpression=(
                    "ADD seq :one SET last_message_at = :now, expires_at = :expires, "
                    "created_at = if_not_exists(created_at, :now)"
                ),
                ExpressionAttributeValues={
                    ":one": 1,
                    ":now": common.decimal(now),
                    ":expires": int(now) + WIDGET_SESSION_SECONDS,
                },
                ReturnValues="UPDATED_NEW",
            )
        return common.as_int(answer["Attributes"]["seq"])

    def _put_message(
        self,
        session_id: str,
        key: dict[str, str],
        message: WidgetMessage,
        now: float,
        flags: dict[str, bool],
    ) -> bool:
        seq = self._next_seq(session_id, now)
        return common.conditionally(
            lambda: self._table.put_item(
                Item={
                    **key,
                    "message_id": message.id,
                    "text": message.text,
                    "ts": message.ts,
                    "seq": seq,
                    "expires_at": int(now) + WIDGET_SESSION_SECONDS,
                    **flags,
                },
                ConditionExpression="attribute_not_exists(sk)",
            )
        )


def _session_from_item(session_id: str, item: dict[str, Any]) -> WidgetSession:
    return WidgetSession(
        session_id=session_id,
        project=str(item.get("project", "")),
        created_at=common.as_float(item.get("created_at")),
        last_message_at=common.as_float(item.get("last_message_at")),
    )


def _seq(item: dict[str, Any]) -> int:
    return common.as_int(item.get("seq"))


def _expires(item: dict[str, Any]) -> int:
    return common.as_int(item.get("expires_at"))
