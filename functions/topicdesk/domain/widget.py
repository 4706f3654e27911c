"""The web chat widget's values and its store port (the wire contract: docs/widget-protocol.md).

A visitor's message travels from the WebSocket edge to the consumer as a ``WidgetRecord`` on
the updates FIFO queue: body ``{WIDGET_RECORD_KEY: {...}}``, group ``widget:<session id>``
(one session's messages stay in order; sessions never hold each other back) and a
deduplication id made of the session and the client's message id (a flaky client's resend
within SQS's five-minute window is queued once; later resends are stopped by the store, see
``WidgetConversations.accept_visitor``).
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from typing import Any, Literal, Protocol

from topicdesk.contract import WIDGET_GROUP_PREFIX, WIDGET_RECORD_KEY

Sender = Literal["visitor", "operator"]

CONNECTION_SECONDS = 3 * 3600
"""How long a connection is remembered: API Gateway closes every connection after two hours."""

SESSION_ID_PATTERN = re.compile(r"[A-Za-z0-9_-]{8,64}")
CLIENT_ID_PATTERN = re.compile(r"[A-Za-z0-9_-]{1,64}")


@dataclass(frozen=True)
class PageInfo:
    """Where the visitor wrote from, as the widget reported it (shown on the contact card)."""

    url: str = ""
    language: str = ""
    user_agent: str = ""

    def to_body(self) -> dict[str, str]:
        return {"url": self.url, "language": self.language, "userAgent": self.user_agent}

    @classmethod
    def from_body(cls, body: Any) -> PageInfo:
        if not isinstance(body, dict):
            return cls()
        values = [body.get(name) for name in ("url", "language", "userAgent")]
        url, language, agent = (value if isinstance(value, str) else "" for value in values)
        return cls(url=url, language=language, user_agent=agent)


@dataclass(frozen=True)
class WidgetRecord:
    """One visitor message, as the edge enqueues it and the consumer relays it."""

    project: str
    session_id: str
    client_message_id: str
    text: str
    ts: int
    """When the edge accepted it (epoch milliseconds)."""
    email: str | None = None
    page: PageInfo = field(default_factory=PageInfo)

    @property
    def group_id(self) -> str:
        return group_id(self.session_id)

    @property
    def deduplication_id(self) -> str:
        return f"{WIDGET_GROUP_PREFIX}{self.session_id}:{self.client_message_id}"

    def to_body(self) -> dict[str, Any]:
        return {
            WIDGET_RECORD_KEY: {
                "project": self.project,
                "session": self.session_id,
                "id": self.client_message_id,
                "text": self.text,
                "email": self.email,
                "page": self.page.to_body(),
                "ts": self.ts,
            }
        }

    @classmethod
    def from_body(cls, body: Any) -> WidgetRecord | None:
        """A queued body back to a record; None when it is not a widget record (a Telegram
        update or a broadcast job) or a malformed one."""
        inner = body.get(WIDGET_RECORD_KEY) if isinstance(body, dict) else None
        if not isinstance(inner, dict):
            return None
        project, session, client_id = inner.get("project"), inner.get("session"), inner.get("id")
        text, ts, email = inner.get("text"), inner.get("ts"), inner.get("email")
        if not (isinstance(project, str) and isinstance(session, str) and isinstance(text, str)):
            return None
        if not isinstance(client_id, str) or not isinstance(ts, int) or isinstance(ts, bool):
            return None
        return cls(
            project=project,
            session_id=session,
            client_message_id=client_id,
            text=text,
            ts=ts,
            email=email if isinstance(email, str) and email else None,
            page=PageInfo.from_body(inner.get("page")),
        )


def group_id(session_id: str) -> str:
    """The updates queue's ``MessageGroupId`` of a widget session."""
    return f"{WIDGET_GROUP_PREFIX}{session_id}"


def session_of_group(group: str) -> str | None:
    """``widget:<session id>`` -> the session id; None for other groups."""
    head, separator, rest = group.partition(WIDGET_GROUP_PREFIX)
    return rest if separator and not head and rest else None


@dataclass(frozen=True)
class WidgetMessage:
    """One line of a widget conversation."""

    id: str
    sender: Sender
    text: str
    ts: int
    """Epoch milliseconds."""
    pending: bool = False
    """An operator's answer kept while no connection of the session was open."""

    def to_frame(self) -> dict[str, Any]:
        """The protocol's message fields (a ``message`` frame without ``type``)."""
        return {"id": self.id, "from": self.sender, "text": self.text, "ts": self.ts}


@dataclass(frozen=True)
class WidgetConnection:
    """An open WebSocket connection: the project its key named, the session once it said
    hello."""

    connection_id: str
    project: str
    session_id: str | None = None
    page: PageInfo = field(default_factory=PageInfo)
    """The page the widget said hello from (sent along with each message)."""


@dataclass(frozen=True)
class WidgetSession:
    session_id: str
    project: str
    created_at: float
    last_message_at: float


class WidgetConversations(Protocol):
    """The widget's sessions, connections and conversations (DynamoDB; everything expires
    ``WIDGET_SESSION_SECONDS`` after the session's last message, connections after a few
    hours). Raises ``StorageUnavailable`` only."""

    def open_connection(self, connection_id: str, project: str, now: float) -> None:
        """``$connect`` accepted a connection for ``project``."""
        ...

    def connection(self, connection_id: str) -> WidgetConnection | None: ...

    def drop_connection(self, connection_id: str) -> None:
        """``$disconnect``, or API Gateway said the connection is gone (410)."""
        ...

    def start_session(self, session_id: str, project: str, now: float) -> None: ...

    def session(self, session_id: str, now: float) -> WidgetSession | None:
        """None when unknown or expired."""
        ...

    def bind(
        self, connection_id: str, session_id: str, now: float, page: PageInfo | None = None
    ) -> None:
        """The connection said hello for the session: answers are pushed to it from now."""
        ...

    def connections(self, session_id: str, now: float) -> list[str]:
        """The session's open connection ids."""
        ...

    def accept_visitor(self, session_id: str, message: WidgetMessage, now: float) -> bool:
        """Record a visitor's message by its client id (a conditional put). True when it
        must be enqueued: it is new, or an earlier attempt recorded it but never confirmed
        its enqueue (``confirm_queued``). False for a resend of a queued message."""
        ...

    def confirm_queued(self, session_id: str, message_id: str) -> None: ...

    def record_operator(
        self, session_id: str, message: WidgetMessage, *, pushed: bool, now: float
    ) -> bool:
        """Record an operator's answer, pushed or kept (pending) for later; False when that
        id is already recorded (a redelivery)."""
        ...

    def history(self, session_id: str, limit: int = 200) -> list[WidgetMessage]:
        """The last ``limit`` messages of the session, oldest first."""
        ...

    def take_pending(self, session_id: str) -> list[WidgetMessage]:
        """The answers kept for later, in order, marked delivered (each is taken once, so
        two concurrent hellos never both flush the same answer)."""
        ...

    def remember_visitor(self, user_id: int, session_id: str, now: float) -> None:
        """The relay's user id for the session (``topicdesk.domain.relay.visitors``): an
        answer in the visitor's topic finds its session by it. Kept as long as the session."""
        ...

    def visitor_session(self, user_id: int) -> str | None:
        """The session a visitor's user id stands for (None: unknown or erased)."""
        ...
