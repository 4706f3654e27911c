"""API Gateway's WebSocket API on localhost: connections, route selection, the Lambda events of
``$connect``/``$disconnect``/message routes, route responses, and the management API.

What it does as API Gateway does (developer guide, "WebSocket APIs"):
- ``$connect`` gets the handshake's headers and query string; a non-2xx answer refuses the
  handshake with that HTTP status, a function error with 500; without a ``$connect`` route
  every handshake is accepted.
- A text message is routed by the route selection expression (``$request.body.<field>``): a
  JSON object whose field names a route goes there, anything else to ``$default``; without
  ``$default`` the client gets API Gateway's ``{"message": "Forbidden", ...}``. A function
  error answers ``{"message": "Internal server error", ...}``.
- A route with a route response sends the function's ``body`` back to the client.
- Messages over 128 KB close the connection with 1009; ``$disconnect`` runs after every
  close (best effort, as on AWS).
- ``POST/GET/DELETE /<stage>/@connections/<id>``: 410 ``GoneException`` for a connection
  that is not open, 413 ``PayloadTooLargeException`` over 128 KB; DELETE closes with 1000
  (API Gateway cannot choose another close code).
Not played: idle (10 min) and maximum (2 h) connection durations, stage throttling, SigV4 on
the management API (any caller is accepted; only loopback can reach it).
"""

from __future__ import annotations

import asyncio
import base64
import json
import logging
import os
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from aiohttp import WSMsgType, web

logger = logging.getLogger(__name__)
MAX_MESSAGE_BYTES = 128 * 1024
Invoke = Callable[[str, dict[str, Any]], Any]
"""(function name, event) -> the function's answer; raises on a function error."""


@dataclass(frozen=True)
class WebSocketRoute:
    key: str
    function: str
    return_response: bool = False


@dataclass(frozen=True)
class WebSocketApiSpec:
    api_id: str
    stage: str
    route_selection_expression: str
    routes: dict[str, WebSocketRoute]

    @property
    def selection_field(self) -> str | None:
        prefix = "$request.body."
        expression = self.route_selection_expression
        return expression[len(prefix) :] if expression.startswith(prefix) else None


@dataclass
class _Connection:
    socket: web.WebSocketResponse
    connected_at: float
    source_ip: str
    user_agent: str
    last_active: float = field(default_factory=time.time)


def _new_connection_id() -> str:
    return base64.b64encode(os.urandom(10)).decode(
        "ascii"
    )  # API Gateway's shape: 'L0SM9cOFvHcCIhw='


def _when(epoch: float) -> str:
    return datetime.fromtimestamp(epoch, UTC).strftime("%d/%b/%Y:%H:%M:%S +0000")


def _error(status: int, kind: str, message: str) -> web.Response:
    return web.json_response(
        {"message": message}, status=status, headers={"x-amzn-ErrorType": kind}
    )


class WebSocketApiServer:
    def __init__(
        self, spec: WebSocketApiSpec, invoke: Invoke, host: str = "127.0.0.1", port: int = 0
    ) -> None:
        self.spec = spec
        self._invoke = invoke
        self._host, self._port = host, port
        self._connections: dict[str, _Connection] = {}
        self._loop: asyncio.AbstractEventLoop | None = None
        self._runner: web.AppRunner | None = None
        self._thread: threading.Thread | None = None
        self.port = 0

    # ------------------------------------------------------------------ URLs

    @property
    def domain(self) -> str:
        return f"{self._host}:{self.port}"

    @property
    def url(self) -> str:
        """What a browser connects to (wss://<api>.execute-api.<region>.amazonaws.com/<stage>)."""
        return self._stage_url("ws")

    @property
    def connections_url(self) -> str:
        """The management API's endpoint (the stage's callback URL)."""
        return self._stage_url("http")

    def _stage_url(self, scheme: str) -> str:
        return f"{scheme}://{self.domain}/{self.spec.stage}"

    # ------------------------------------------------------------------ life cycle

    def start(self) -> None:
        ready = threading.Event()
        loop = asyncio.new_event_loop()
        self._loop = loop

        async def serve() -> None:
            app = web.Application(client_max_size=MAX_MESSAGE_BYTES + 1024)
            app.router.add_route("*", "/{stage}/@connections/{connection_id}", self._manage)
            app.router.add_get("/{stage}", self._handshake)
            self._runner = web.AppRunner(app, access_log=None)
            await self._runner.setup()
            site = web.TCPSite(self._runner, self._host, self._port)
            await site.start()
            self.port = site._server.sockets[0].getsockname()[1]  # type: ignore[union-attr]

        def run() -> None:
            asyncio.set_event_loop(loop)
            loop.run_until_complete(serve())
            ready.set()
            loop.run_forever()

        self._thread = threading.Thread(target=run, name="websocket-api", daemon=True)
        self._thread.start()
        if not ready.wait(30):
            raise RuntimeError("the WebSocket API did not start")

    def stop(self) -> None:
        loop = self._loop
        if loop is None:
            return

        async def shutdown() -> None:
            for connection in list(self._connections.values()):
                await connection.socket.close(code=1001)
            if self._runner is not None:
                await self._runner.cleanup()

        asyncio.run_coroutine_threadsafe(shutdown(), loop).result(15)
        loop.call_soon_threadsafe(loop.stop)
        if self._thread is not None:
            self._thread.join(10)
        self._loop = None

    # ------------------------------------------------------------------ events

    def _context(
        self, route: str, event_type: str, connection_id: str, **extra: Any
    ) -> dict[str, Any]:
        now = time.time()
        connection = self._connections.get(connection_id)
        return {
            "routeKey": route,
            "eventType": event_type,
            "extendedRequestId": f"local-{time.monotonic_ns()}",
            "requestTime": _when(now),
            "messageDirection": "IN",
            "stage": self.spec.stage,
            "connectedAt": int((connection.connected_at if connection else now) * 1000),
            "requestTimeEpoch": int(now * 1000),
            "identity": {
                "sourceIp": connection.source_ip if connection else extra.pop("source_ip", ""),
                "userAgent": connection.user_agent if connection else extra.pop("user_agent", ""),
            },
            "requestId": f"local-{time.monotonic_ns()}",
            "domainName": self.domain,
            "connectionId": connection_id,
            "apiId": self.spec.api_id,
            **extra,
        }

    async def _call(self, route: WebSocketRoute, event: dict[str, Any]) -> Any:
        return await asyncio.to_thread(self._invoke, route.function, event)

    # ------------------------------------------------------------------ the client side

    async def _handshake(self, request: web.Request) -> web.StreamResponse:
        if request.match_info["stage"] != self.spec.stage:
            return _error(403, "ForbiddenException", "Forbidden")
        connection_id = _new_connection_id()
        source_ip, agent = request.remote or "127.0.0.1", request.headers.get("User-Agent", "")
        route = self.spec.routes.get("$connect")
        if route is not None:
            query = dict(request.query)
            event = {
                "headers": dict(request.headers),
                "multiValueHeaders": {k: request.headers.getall(k) for k in request.headers},
                "queryStringParameters": query or None,
                "multiValueQueryStringParameters": (
                    {k: request.query.getall(k) for k in request.query} or None
                ),
                "requestContext": self._context(
                    "$connect", "CONNECT", connection_id, source_ip=source_ip, user_agent=agent
                ),
                "isBase64Encoded": False,
            }
            try:
                answer = await self._call(route, event)
            except Exception as error:
                logger.warning("$connect failed: %s", error)
                return _error(500, "InternalServerErrorException", "Internal server error")
            status = int(answer.get("statusCode", 200)) if isinstance(answer, dict) else 200
            if not 200 <= status < 300:
                return web.Response(status=status)
        socket = web.WebSocketResponse(max_msg_size=MAX_MESSAGE_BYTES, autoping=True)
        await socket.prepare(request)
        self._connections[connection_id] = _Connection(socket, time.time(), source_ip, agent)
        try:
            async for message in socket:
                if message.type in (WSMsgType.TEXT, WSMsgType.BINARY):
                    self._connections[connection_id].last_active = time.time()
                    await self._message(connection_id, message.data)
        finally:
            self._connections.pop(connection_id, None)
            await self._disconnect(connection_id, socket.close_code or 1006)
        return socket

    def _select(self, data: str | bytes) -> WebSocketRoute | None:
        name = self.spec.selection_field
        key = "$default"
        if isinstance(data, str) and name:
            try:
                parsed = json.loads(data)
            except ValueError:
                parsed = None
            if isinstance(parsed, dict) and isinstance(parsed.get(name), str):
                key = parsed[name] if parsed[name] in self.spec.routes else "$default"
        return self.spec.routes.get(key)

    async def _message(self, connection_id: str, data: str | bytes) -> None:
        connection = self._connections[connection_id]
        route = self._select(data)
        request_id = f"local-{time.monotonic_ns()}"
        if route is None or route.key in ("$connect", "$disconnect"):
            await connection.socket.send_str(
                json.dumps(
                    {"message": "Forbidden", "connectionId": connection_id, "requestId": request_id}
                )
            )
            return
        binary = isinstance(data, bytes)
        body_in = base64.b64encode(data).decode("ascii") if isinstance(data, bytes) else data
        event = {
            "requestContext": self._context(
                route.key, "MESSAGE", connection_id, messageId=request_id
            ),
            "body": body_in,
            "isBase64Encoded": binary,
        }
        try:
            answer = await self._call(route, event)
        except Exception as error:
            logger.warning("%s failed: %s", route.key, error)
            answer = None
            body: Any = json.dumps(
                {
                    "message": "Internal server error",
                    "connectionId": connection_id,
                    "requestId": request_id,
                }
            )
        else:
            body = answer.get("body") if isinstance(answer, dict) else None
            if not route.return_response:
                body = None
        if body is not None and not connection.socket.closed:
            await connection.socket.send_str(str(body))

    async def _disconnect(self, connection_id: str, code: int) -> None:
        route = self.spec.routes.get("$disconnect")
        if route is None:
            return
        context = self._context(
            "$disconnect",
            "DISCONNECT",
            connection_id,
            disconnectStatusCode=code,
            disconnectReason="Connection Closed Normally" if code == 1000 else "",
        )
        try:
            await self._call(
                route, {"headers": {}, "requestContext": context, "isBase64Encoded": False}
            )
        except Exception as error:  # API Gateway does not retry $disconnect either
            logger.warning("$disconnect failed: %s", error)

    # ------------------------------------------------------------------ the management API

    async def _manage(self, request: web.Request) -> web.StreamResponse:
        if request.match_info["stage"] != self.spec.stage:
            return _error(403, "ForbiddenException", "Forbidden")
        connection = self._connections.get(request.match_info["connection_id"])
        if request.method not in ("POST", "GET", "DELETE"):
            return _error(403, "ForbiddenException", "Forbidden")
        if connection is None or connection.socket.closed:
            return _error(410, "GoneException", "")
        if request.method == "GET":
            return web.json_response(
                {
                    "ConnectedAt": datetime.fromtimestamp(connection.connected_at, UTC).isoformat(),
                    "Identity": {
                        "SourceIp": connection.source_ip,
                        "UserAgent": connection.user_agent,
                    },
                    "LastActiveAt": datetime.fromtimestamp(connection.last_active, UTC).isoformat(),
                }
            )
        if request.method == "DELETE":
            await connection.socket.close(code=1000)
            return web.Response(status=204)
        data = await request.read()
        if len(data) > MAX_MESSAGE_BYTES:
            return _error(413, "PayloadTooLargeException", "Message too long")
        try:
            await connection.socket.send_str(data.decode("utf-8"))
        except UnicodeDecodeError:
            await connection.socket.send_bytes(data)
        except ConnectionResetError:
            return _error(410, "GoneException", "")
        return web.Response(status=200)
