"""The widget edge end to end on the local runtime: a Python WebSocket client talks to
devkit's API Gateway stand-in, which runs the real handler (its own process, like Lambda)
against a moto server with the stack's queues and tables."""

from __future__ import annotations

import asyncio
import json
from collections.abc import Awaitable, Callable, Iterator
from dataclasses import dataclass
from typing import Any

import aiohttp
import boto3
import pytest
from topicdesk.contract import Env
from topicdesk.domain.widget import WidgetRecord

from devkit.lambda_runtime.functions import FunctionPool, FunctionSpec
from devkit.lambda_runtime.websocket import (
    MAX_MESSAGE_BYTES,
    WebSocketApiServer,
    WebSocketApiSpec,
    WebSocketRoute,
)
from devkit.moto import REGION, MotoServer, client, start_server
from infra.definitions import create_queues, create_tables
from tests.support import ROOT

ORIGIN = "https://shop.example"
KEY = "shop-widget-key-0001"
FUNCTION = "topicdesk-test-widget"


@dataclass
class Edge:
    api: WebSocketApiServer
    sqs: Any
    queue_url: str

    def records(self) -> list[dict[str, Any]]:
        messages: list[dict[str, Any]] = []
        while True:
            answer = self.sqs.receive_message(
                QueueUrl=self.queue_url, MaxNumberOfMessages=10, AttributeNames=["All"]
            )
            if not answer.get("Messages"):
                return messages
            messages.extend(answer["Messages"])


@pytest.fixture(scope="module")
def moto() -> Iterator[MotoServer]:
    server = start_server()
    try:
        yield server
    finally:
        server.stop()


@pytest.fixture(scope="module")
def edge(moto: MotoServer, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Edge]:
    sqs = client("sqs", moto.endpoint)
    queues = create_queues(sqs, lambda suffix: f"widget-it-{suffix}.fifo", max_receive_count=10)
    tables = create_tables(client_resource(moto.endpoint), lambda suffix: f"widget-it-{suffix}")
    client("secretsmanager", moto.endpoint).create_secret(
        Name="widget-it-token", SecretString="the-signing-key"
    )
    routes = {
        key: WebSocketRoute(key, FUNCTION, return_response=key not in ("$connect", "$disconnect"))
        for key in ("$connect", "$disconnect", "$default", "hello", "send")
    }
    spec = WebSocketApiSpec("localapi", "local", "$request.body.action", routes)
    pools: dict[str, FunctionPool] = {}
    api = WebSocketApiServer(spec, lambda name, event: pools[name].invoke(event))
    api.start()
    project = {
        "name": "shop",
        "widgetKey": KEY,
        "allowedOrigins": [ORIGIN],
        "operatorChatIds": [-1001],
    }
    environment = {
        "AWS_REGION": REGION,
        "AWS_DEFAULT_REGION": REGION,
        "AWS_ACCESS_KEY_ID": "testing",
        "AWS_SECRET_ACCESS_KEY": "testing",
        "AWS_ENDPOINT_URL": moto.endpoint,
        "POWERTOOLS_TRACE_DISABLED": "true",
        "POWERTOOLS_METRICS_NAMESPACE": "Topicdesk/test",
        "POWERTOOLS_SERVICE_NAME": "topicdesk-widget",
        Env.WIDGET_PROJECTS: json.dumps([project]),
        Env.WIDGET_TOKEN_SECRET_NAME: "widget-it-token",
        Env.WIDGET_CONNECTIONS_URL: api.connections_url,
        Env.UPDATES_QUEUE_URL: queues.updates_url,
        Env.DATA_TABLE: tables.data,
        Env.LIMITS_TABLE: tables.limits,
    }
    log = tmp_path_factory.mktemp("widget") / "widget.log"
    spec_ = FunctionSpec(
        FUNCTION, "topicdesk.handlers.widget.handler", environment, ROOT / "functions", log_path=log
    )
    pools[FUNCTION] = FunctionPool(spec_, 2)
    try:
        yield Edge(api, sqs, queues.updates_url)
    finally:
        api.stop()
        pools[FUNCTION].stop()


def client_resource(endpoint: str) -> Any:
    return boto3.resource(
        "dynamodb",
        endpoint_url=endpoint,
        region_name=REGION,
        aws_access_key_id="testing",
        aws_secret_access_key="testing",
    )


def run(edge: Edge, scenario: Callable[[aiohttp.ClientSession, Edge], Awaitable[None]]) -> None:
    async def main() -> None:
        async with aiohttp.ClientSession() as http:
            await scenario(http, edge)

    asyncio.run(main())


async def connect(
    http: aiohttp.ClientSession, edge: Edge, *, key: str = KEY, origin: str = ORIGIN
) -> aiohttp.ClientWebSocketResponse:
    return await http.ws_connect(
        f"{edge.api.url}?key={key}", origin=origin, timeout=aiohttp.ClientWSTimeout(ws_close=30)
    )


async def ask(socket: aiohttp.ClientWebSocketResponse, frame: Any) -> dict[str, Any]:
    await (socket.send_str(frame) if isinstance(frame, str) else socket.send_json(frame))
    answer = await socket.receive(timeout=30)
    assert answer.type == aiohttp.WSMsgType.TEXT, answer
    parsed: dict[str, Any] = json.loads(answer.data)
    return parsed


async def hello(
    socket: aiohttp.ClientWebSocketResponse, session: str | None = None
) -> dict[str, Any]:
    page = {"url": f"{ORIGIN}/", "language": "en", "userAgent": "pytest"}
    return await ask(socket, {"action": "hello", "session": session, "page": page})


async def _wrong_key_or_origin_is_refused_at_the_handshake(
    session: aiohttp.ClientSession, edge: Edge
) -> None:
    for kwargs in ({"key": "wrong-key-000000000"}, {"origin": "https://evil.example"}):
        with pytest.raises(aiohttp.WSServerHandshakeError) as refused:
            await connect(session, edge, **kwargs)
        assert refused.value.status == 403


async def _hello_send_resend_and_exactly_one_record(
    session: aiohttp.ClientSession, edge: Edge
) -> None:
    socket = await connect(session, edge)
    welcome = await hello(socket)
    assert welcome["type"] == "welcome" and welcome["messages"] == []
    send = {"action": "send", "id": "m-1", "text": "Hello from the page", "email": "a@example.org"}
    assert await ask(socket, send) == {"type": "ack", "id": "m-1"}
    assert await ask(socket, send) == {"type": "ack", "id": "m-1"}  # a resend
    records = edge.records()
    assert len(records) == 1
    record = WidgetRecord.from_body(json.loads(records[0]["Body"]))
    session_id = welcome["session"].split(".")[0]
    assert record is not None and record.session_id == session_id
    assert record.text == "Hello from the page" and record.page.user_agent == "pytest"
    assert records[0]["Attributes"]["MessageGroupId"] == f"widget:{session_id}"
    await socket.close()
    # A new connection resumes the session: the history is there.
    again = await connect(session, edge)
    resumed = await hello(again, welcome["session"])
    assert [m["text"] for m in resumed["messages"]] == ["Hello from the page"]
    await again.close()


async def _bad_frames_get_errors_and_enqueue_nothing(
    session: aiohttp.ClientSession, edge: Edge
) -> None:
    socket = await connect(session, edge)
    assert (await ask(socket, {"action": "send", "id": "x", "text": "hi"}))["code"] == "not_ready"
    await hello(socket)
    assert (await ask(socket, "this is not json"))["code"] == "bad_frame"
    assert (await ask(socket, {"action": "dance"}))["code"] == "unknown_action"
    assert (await ask(socket, {"action": "send", "id": "x" * 65, "text": "hi"}))[
        "code"
    ] == "invalid"
    oversized = json.dumps({"action": "send", "id": "big", "text": "x" * 20_000})
    assert (await ask(socket, oversized))["code"] == "bad_frame"
    forged = f"AAAAAAAAAAAAAAAAAAAAAA.9999999999.{'A' * 43}"
    assert (await ask(socket, {"action": "hello", "session": forged}))["code"] == "session_invalid"
    assert edge.records() == []
    # Over API Gateway's own 128 KB: the connection is closed with 1009.
    await socket.send_str("x" * (MAX_MESSAGE_BYTES + 1))
    closed = await socket.receive(timeout=30)
    assert closed.type in (aiohttp.WSMsgType.CLOSE, aiohttp.WSMsgType.CLOSED)
    assert socket.close_code == 1009


async def _a_flooding_client_is_paced_then_closed(
    session: aiohttp.ClientSession, edge: Edge
) -> None:
    socket = await connect(session, edge)
    await hello(socket)
    codes = []
    for n in range(20):
        await socket.send_json({"action": "send", "id": f"f{n}", "text": "spam"})
        answer = await socket.receive(timeout=30)
        if answer.type != aiohttp.WSMsgType.TEXT:
            break
        frame = json.loads(answer.data)
        codes.append(frame.get("code", frame["type"]))
    assert codes[:8] == ["ack"] * 8
    assert set(codes[8:]) == {"rate_limited"}
    final = await socket.receive(timeout=30)
    assert final.type in (aiohttp.WSMsgType.CLOSE, aiohttp.WSMsgType.CLOSED)
    assert socket.close_code == 1000  # API Gateway's DeleteConnection
    assert len(edge.records()) == 8


def test_wrong_key_or_origin_is_refused_at_the_handshake(edge: Edge) -> None:
    run(edge, _wrong_key_or_origin_is_refused_at_the_handshake)


def test_hello_send_resend_and_exactly_one_record(edge: Edge) -> None:
    run(edge, _hello_send_resend_and_exactly_one_record)


def test_bad_frames_get_errors_and_enqueue_nothing(edge: Edge) -> None:
    run(edge, _bad_frames_get_errors_and_enqueue_nothing)


def test_a_flooding_client_is_paced_then_closed(edge: Edge) -> None:
    run(edge, _a_flooding_client_is_paced_then_closed)
