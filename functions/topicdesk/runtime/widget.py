"""The widget's WebSocket routes as API Gateway invokes them: one function, every route.

API Gateway sends the route's answer (``body``) back to the client (the routes are created
with a route response); ``$connect`` answers with a status only: 200 accepts the handshake,
anything else refuses it with that status. A storage or queue failure is answered with an
``unavailable`` error frame (the widget resends the same id later) or, on ``$connect``, a 500.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any, Protocol

from aws_lambda_powertools import Logger

from topicdesk.domain.errors import StorageUnavailable
from topicdesk.domain.ports import Metrics
from topicdesk.domain.widget_edge import Reply, WidgetEdge, error_frame

logger = Logger(child=True)
RETRY_AFTER_UNAVAILABLE = 5


class ConnectionControl(Protocol):
    """API Gateway's management API for the edge's own use (the flooding client's close)."""

    def post(self, connection_id: str, frame: dict[str, Any]) -> None: ...

    def close(self, connection_id: str) -> None: ...


def _header(headers: Any, name: str) -> str | None:
    """HTTP header names are case-insensitive; API Gateway passes them as the client sent them."""
    for key, value in (headers or {}).items():
        if str(key).lower() == name:
            return str(value)
    return None


def _status(code: int) -> dict[str, Any]:
    return {"statusCode": code}


@dataclass
class WidgetEdgeRuntime:
    edge: WidgetEdge
    control: ConnectionControl
    metrics: Metrics

    def handle(self, event: dict[str, Any]) -> dict[str, Any]:
        context = event.get("requestContext") or {}
        route, connection_id = context.get("routeKey"), str(context.get("connectionId", ""))
        if route == "$connect":
            return self._connect(connection_id, event)
        if route == "$disconnect":
            try:
                self.edge.disconnect(connection_id)
            except StorageUnavailable:  # its items expire on their own (TTL)
                logger.warning("could not forget a closed connection")
            return _status(200)
        return self._frame(connection_id, event.get("body"))

    def _connect(self, connection_id: str, event: dict[str, Any]) -> dict[str, Any]:
        query = event.get("queryStringParameters") or {}
        origin = _header(event.get("headers"), "origin")
        try:
            accepted = self.edge.connect(connection_id, query.get("key"), origin)
        except StorageUnavailable:
            logger.exception("could not remember the connection")
            return _status(500)
        if not accepted:
            # Neither the key nor the origin is logged in full: the origin is the page's host.
            logger.info("connection refused", extra={"origin": origin})
            return _status(403)
        return _status(200)

    def _frame(self, connection_id: str, body: Any) -> dict[str, Any]:
        try:
            reply = self.edge.message(connection_id, body if isinstance(body, str) else None)
        except StorageUnavailable:
            logger.exception("frame not handled: storage or queue unavailable")
            self.metrics.count("WidgetUnavailable")
            frame = error_frame(
                "unavailable", "try again shortly", retry_after=RETRY_AFTER_UNAVAILABLE
            )
            reply = Reply(frame)
        if reply.frame is not None and reply.frame.get("type") == "error":
            logger.info(
                "frame refused",
                extra={"code": reply.frame.get("code"), "connection_id": connection_id},
            )
        if reply.close:
            return self._close(connection_id, reply)
        if reply.frame is None:
            return _status(200)
        return {"statusCode": 200, "body": json.dumps(reply.frame, ensure_ascii=False)}

    def _close(self, connection_id: str, reply: Reply) -> dict[str, Any]:
        """The last frame first, then the connection goes (a route response would come after
        the close, so it is posted)."""
        try:
            if reply.frame is not None:
                self.control.post(connection_id, reply.frame)
            self.control.close(connection_id)
        except StorageUnavailable:
            logger.warning("could not close a flooding connection")
        return _status(200)
