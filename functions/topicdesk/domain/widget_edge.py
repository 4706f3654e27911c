"""The widget's WebSocket edge: who may connect, hello (a session issued or resumed), send
(validated, paced, queued once), as the wire contract says (docs/widget-protocol.md).

Every refusal is an ``error`` frame (the connection stays open) except a flooding client's:
after ``EdgePace.flood_strikes`` refused sends within the session's pace it gets one last
frame and the connection is closed. Nothing is queued from a refused frame. A message is
acknowledged only after SQS took it (or took it before: a resend).
"""

from __future__ import annotations

import json
import math
import re
import secrets
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any, Protocol

from topicdesk.contract import WIDGET_SESSION_SECONDS
from topicdesk.domain.errors import RateLimited
from topicdesk.domain.limiter import Rule, reserve_all
from topicdesk.domain.ports import Clock, Metrics, SessionRepository, TatStore
from topicdesk.domain.relay.visitors import visitor_user_id
from topicdesk.domain.widget import (
    CLIENT_ID_PATTERN,
    PageInfo,
    WidgetConnection,
    WidgetConversations,
    WidgetMessage,
    WidgetRecord,
)
from topicdesk.domain.widget_tokens import TokenSigner

MAX_FRAME_BYTES = 16 * 1024
MAX_TEXT_CHARS = 4096
MAX_EMAIL_CHARS = 254
MAX_PAGE_CHARS = {"url": 2048, "language": 35, "userAgent": 512}
WELCOME_BUDGET_BYTES = 96 * 1024
"""A welcome is one frame, and API Gateway sends at most 128 KB per message: the oldest
messages of a long conversation are left out of it."""
_EMAIL = re.compile(r"[^@\s]+@[^@\s]+\.[^@\s]+")


@dataclass(frozen=True)
class WidgetProject:
    name: str
    key: str
    allowed_origins: frozenset[str]
    operator_chat_ids: tuple[int, ...]


@dataclass(frozen=True)
class EdgePace:
    session_burst: int = 8
    session_interval: float = 8.0
    group_per_minute: float = 19.0
    """The pace of one operators' group: a project's visitors, together, may write no faster
    than its groups can take (``project_burst`` ahead)."""
    project_burst: int = 30
    flood_strikes: int = 4
    """Refused sends a connection may make per ``session_interval`` before it is closed."""


@dataclass(frozen=True)
class Reply:
    frame: dict[str, Any] | None = None
    close: bool = False
    """Close the connection after sending ``frame`` (a flooding client)."""


class UpdateQueue(Protocol):
    def enqueue(self, body: str, *, group_id: str, deduplication_id: str) -> str: ...


def error_frame(
    code: str, message: str, *, id: str | None = None, retry_after: float | None = None
) -> dict[str, Any]:
    frame: dict[str, Any] = {"type": "error", "code": code, "message": message}
    if id is not None:
        frame["id"] = id
    if retry_after is not None:
        frame["retryAfter"] = max(1, math.ceil(retry_after))
    return frame


class Refusal(Exception):
    def __init__(self, reply: Reply, metric: str = "WidgetFramesRefused") -> None:
        super().__init__(reply.frame)
        self.reply = reply
        self.metric = metric


def _refuse(code: str, message: str, **extra: Any) -> Refusal:
    return Refusal(Reply(error_frame(code, message, **extra)))


def parse_frame(body: str | None) -> dict[str, Any]:
    raw = (body or "").encode("utf-8", errors="surrogatepass")
    if len(raw) > MAX_FRAME_BYTES:
        raise _refuse("bad_frame", f"frame over {MAX_FRAME_BYTES} bytes")
    try:
        parsed = json.loads(raw)
    except (UnicodeDecodeError, ValueError, RecursionError):
        raise _refuse("bad_frame", "frame is not JSON") from None
    if not isinstance(parsed, dict):
        raise _refuse("bad_frame", "frame is not a JSON object")
    return parsed


def parse_page(value: Any) -> PageInfo:
    if value is None:
        return PageInfo()
    if not isinstance(value, dict):
        raise _refuse("invalid", "page must be an object")
    for name, limit in MAX_PAGE_CHARS.items():
        field = value.get(name)
        if field is not None and (not isinstance(field, str) or len(field) > limit):
            raise _refuse("invalid", f"page.{name} must be a string of at most {limit} characters")
    return PageInfo.from_body(value)


def parse_send(frame: dict[str, Any]) -> tuple[str, str, str | None]:
    """(client id, text, e-mail) of a ``send`` frame."""
    client_id, text, email = frame.get("id"), frame.get("text"), frame.get("email")
    if not isinstance(client_id, str) or not CLIENT_ID_PATTERN.fullmatch(client_id):
        raise _refuse("invalid", "id must be 1-64 of [A-Za-z0-9_-]")
    if not isinstance(text, str) or not text.strip() or len(text) > MAX_TEXT_CHARS:
        raise _refuse("invalid", f"text must be 1-{MAX_TEXT_CHARS} characters", id=client_id)
    if email in (None, ""):
        return client_id, text, None
    if not isinstance(email, str) or len(email) > MAX_EMAIL_CHARS or not _EMAIL.fullmatch(email):
        raise _refuse("invalid", "email is not an e-mail address", id=client_id)
    return client_id, text, email


def new_session_id() -> str:
    return secrets.token_urlsafe(16)


def _fit(messages: Sequence[WidgetMessage], budget: int) -> list[dict[str, Any]]:
    """The newest messages whose frames fit in ``budget`` bytes, oldest first."""
    kept: list[dict[str, Any]] = []
    for message in reversed(messages):
        frame = message.to_frame()
        budget -= len(json.dumps(frame, ensure_ascii=False).encode("utf-8")) + 1
        if budget < 0:
            break
        kept.append(frame)
    return kept[::-1]


@dataclass
class WidgetEdge:
    projects: Sequence[WidgetProject]
    store: WidgetConversations
    queue: UpdateQueue
    limits: TatStore
    signer: Callable[[], TokenSigner]
    """Reads the signing keys (cached by the adapter)."""
    metrics: Metrics
    clock: Clock
    pace: EdgePace = EdgePace()
    session_ids: Callable[[], str] = new_session_id
    sessions: SessionRepository | None = None
    """The relay's sessions: a visitor banned with /ban is refused here (one GetItem), not
    shown "sent" and then dropped by the consumer."""

    def connect(self, connection_id: str, key: str | None, origin: str | None) -> bool:
        """``$connect``: True to accept (the connection is remembered with its project)."""
        project = next((p for p in self.projects if p.key == key), None) if key else None
        if project is None or origin not in project.allowed_origins:
            self.metrics.count("WidgetConnectRefused")
            return False
        self.store.open_connection(connection_id, project.name, self.clock.now())
        self.metrics.count("WidgetConnections")
        return True

    def disconnect(self, connection_id: str) -> None:
        self.store.drop_connection(connection_id)

    def message(self, connection_id: str, body: str | None) -> Reply:
        """Any frame, whichever route API Gateway chose for it."""
        try:
            frame = parse_frame(body)
            action = frame.get("action")
            if action == "hello":
                return self._hello(connection_id, frame)
            if action == "send":
                return self._send(connection_id, frame)
            raise _refuse("unknown_action", "action must be hello or send")
        except Refusal as refusal:
            self.metrics.count(refusal.metric)
            return refusal.reply

    # ------------------------------------------------------------------ hello

    def _connection(self, connection_id: str) -> WidgetConnection:
        connection = self.store.connection(connection_id)
        if connection is None:  # forgotten (expired): the widget says hello on a new one
            raise _refuse("not_ready", "unknown connection: reconnect")
        return connection

    def _hello(self, connection_id: str, frame: dict[str, Any]) -> Reply:
        connection = self._connection(connection_id)
        page = parse_page(frame.get("page"))
        now = self.clock.now()
        token = frame.get("session")
        if token is None:
            session_id = self.session_ids()
            self.store.start_session(session_id, connection.project, now)
            self.metrics.count("WidgetSessionsStarted")
        else:
            verified = self.signer().verify(token, now)
            session = self.store.session(verified, now) if verified else None
            if session is None or session.project != connection.project:
                raise _refuse("session_invalid", "unknown or expired session: say hello with null")
            session_id = session.session_id
            self.metrics.count("WidgetSessionsResumed")
        self.store.bind(connection_id, session_id, now, page)
        history = self.store.history(session_id)
        flushed = self.store.take_pending(session_id)  # they are in the history, in order
        if flushed:
            self.metrics.count("WidgetAnswersFlushed", len(flushed))
        expiry = int(now) + WIDGET_SESSION_SECONDS
        return Reply(
            {
                "type": "welcome",
                "session": self.signer().issue(session_id, expiry),
                "messages": _fit(history, WELCOME_BUDGET_BYTES),
            }
        )

    # ------------------------------------------------------------------ send

    def _send(self, connection_id: str, frame: dict[str, Any]) -> Reply:
        client_id, text, email = parse_send(frame)
        connection = self._connection(connection_id)
        if connection.session_id is None:
            raise _refuse("not_ready", "say hello first", id=client_id)
        session_id, now = connection.session_id, self.clock.now()
        # Before the pace: a banned visitor's sends spend none of the project's budget.
        relayed = self.sessions.get(visitor_user_id(session_id)) if self.sessions else None
        if relayed is not None and relayed.banned:
            refused = error_frame("banned", "this chat does not accept your messages", id=client_id)
            raise Refusal(Reply(refused), "WidgetBannedRefused")
        self._pace(connection, client_id, now)
        message = WidgetMessage(client_id, "visitor", text, ts=int(now * 1000))
        if self.store.accept_visitor(session_id, message, now):
            record = WidgetRecord(
                project=connection.project,
                session_id=session_id,
                client_message_id=client_id,
                text=text,
                ts=message.ts,
                email=email,
                page=connection.page,
            )
            self.queue.enqueue(
                json.dumps(record.to_body(), ensure_ascii=False),
                group_id=record.group_id,
                deduplication_id=record.deduplication_id,
            )
            self.store.confirm_queued(session_id, client_id)
            self.metrics.count("WidgetMessagesQueued")
        else:
            self.metrics.count("WidgetResends")
        return Reply({"type": "ack", "id": client_id})

    def _pace(self, connection: WidgetConnection, client_id: str, now: float) -> None:
        """The session's pace, then the project's budget (all or nothing); a connection that
        keeps sending into refusals is closed."""
        pace = self.pace
        project = next((p for p in self.projects if p.name == connection.project), None)
        groups = len(project.operator_chat_ids) if project else 1
        rules = [
            Rule(
                f"widget-session#{connection.session_id}", pace.session_interval, pace.session_burst
            ),
            Rule(
                f"widget-project#{connection.project}",
                60.0 / (pace.group_per_minute * max(1, groups)),
                pace.project_burst,
            ),
        ]
        try:
            reserve_all(self.limits, rules, now, max_wait=0.0)
        except RateLimited as limited:
            retry = error_frame(
                "rate_limited", "too many messages", id=client_id, retry_after=limited.retry_after
            )
            strike = Rule(
                f"widget-flood#{connection.connection_id}",
                pace.session_interval,
                pace.flood_strikes,
            )
            try:
                self.limits.reserve(strike, now, 0.0)
            except RateLimited:
                raise Refusal(Reply(retry, close=True), "WidgetFloodClosed") from None
            raise Refusal(Reply(retry), "WidgetRateLimited") from None
