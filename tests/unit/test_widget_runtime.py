"""The widget edge as API Gateway invokes it: events in, status codes and frames out."""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from typing import Any

import pytest
from topicdesk.contract import Env
from topicdesk.domain.widget_edge import EdgePace
from topicdesk.runtime.widget import WidgetEdgeRuntime
from topicdesk.settings import SettingsError, WidgetEdgeSettings

from tests.support.fakes import FakeMetrics
from tests.unit.test_widget_edge import ORIGIN, World
from tests.unit.test_widget_edge import world as world


@dataclass
class FakeControl:
    calls: list[tuple[str, str, Any]] = field(default_factory=list)

    def post(self, connection_id: str, frame: dict[str, Any]) -> None:
        self.calls.append(("post", connection_id, frame))

    def close(self, connection_id: str) -> None:
        self.calls.append(("close", connection_id, None))


def event(route: str, connection: str = "c1", **extra: Any) -> dict[str, Any]:
    context = {"routeKey": route, "connectionId": connection, "stage": "local"}
    return {"requestContext": context, **extra}


def test_routes_answer_like_api_gateway_expects(world: World) -> None:
    control = FakeControl()
    runtime = WidgetEdgeRuntime(world.edge, control, FakeMetrics())
    refused = runtime.handle(
        event(
            "$connect",
            headers={"Origin": "https://evil.example"},
            queryStringParameters={"key": "key-shop"},
        )
    )
    assert refused == {"statusCode": 403}
    accepted = runtime.handle(
        event("$connect", headers={"origin": ORIGIN}, queryStringParameters={"key": "key-shop"})
    )
    assert accepted == {"statusCode": 200}
    hello = runtime.handle(event("hello", body=json.dumps({"action": "hello", "session": None})))
    assert json.loads(hello["body"])["type"] == "welcome"
    unknown = runtime.handle(event("$default", body="{not json"))
    assert json.loads(unknown["body"])["code"] == "bad_frame"
    world.queue.failures = 1
    down = runtime.handle(
        event("send", body=json.dumps({"action": "send", "id": "m1", "text": "x"}))
    )
    assert json.loads(down["body"]) == {
        "type": "error",
        "code": "unavailable",
        "message": "try again shortly",
        "retryAfter": 5,
    }
    assert runtime.handle(event("$disconnect")) == {"statusCode": 200}
    assert world.store.connection("c1") is None
    assert control.calls == []


def test_a_flooding_connection_gets_its_last_frame_then_is_closed(world: World) -> None:
    control = FakeControl()
    runtime = WidgetEdgeRuntime(world.edge, control, FakeMetrics())
    world.welcome("c1")
    answers = [
        runtime.handle(
            event("send", body=json.dumps({"action": "send", "id": f"m{n}", "text": "x"}))
        )
        for n in range(11)
    ]
    assert answers[-1] == {"statusCode": 200}  # no route response: the frame was posted
    assert [call[0] for call in control.calls] == ["post", "close"]
    assert control.calls[0][2]["code"] == "rate_limited"


def test_settings_need_every_widget_setting() -> None:
    env = {
        Env.WIDGET_PROJECTS: json.dumps(
            [
                {
                    "name": "shop",
                    "widgetKey": "k",
                    "allowedOrigins": [ORIGIN],
                    "operatorChatIds": [-1],
                }
            ]
        ),
        Env.UPDATES_QUEUE_URL: "https://sqs/q.fifo",
        Env.DATA_TABLE: "data",
        Env.LIMITS_TABLE: "limits",
        Env.WIDGET_TOKEN_SECRET_NAME: "token",
        Env.WIDGET_CONNECTIONS_URL: "https://api.example/prod/",
        Env.LIMIT_PERSON_BURST: "5",
    }
    settings = WidgetEdgeSettings.from_env(env)
    assert settings.projects[0].allowed_origins == frozenset({ORIGIN})
    assert settings.connections_url == "https://api.example/prod"
    assert settings.pace == EdgePace(session_burst=5)
    for name in env:
        if name != Env.LIMIT_PERSON_BURST:
            with pytest.raises(SettingsError):
                WidgetEdgeSettings.from_env({k: v for k, v in env.items() if k != name})
    with pytest.raises(SettingsError):
        WidgetEdgeSettings.from_env({**env, Env.WIDGET_PROJECTS: '[{"name": "x"}]'})
