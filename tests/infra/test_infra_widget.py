"""The widget's WebSocket API: routes, stage, grants (least privilege), alarms, outputs, and
the projects in cdk.json."""

from __future__ import annotations

import json
from typing import Any

import pytest
from topicdesk.contract import Env, Output

from infra.config import ConfigError
from tests.infra.infra_synth import Synth, stage_config
from tests.infra.test_infra_least_privilege import SECRET_READ, SQS_SEND, assert_common, ref_id

ROUTE = "AWS::ApiGatewayV2::Route"
MANAGE = "execute-api:ManageConnections"


def api_id(synth: Synth) -> str:
    logical, _ = synth.find("AWS::ApiGatewayV2::Api", lambda r: True)
    return logical


def test_a_stage_without_projects_has_no_websocket_api(prod: Synth) -> None:
    assert prod.config.projects == ()
    assert prod.resources("AWS::ApiGatewayV2::Api") == {}
    assert Output.WIDGET_URL not in prod.body["Outputs"]
    _, consumer = prod.function("consumer")
    assert Env.WIDGET_CONNECTIONS_URL not in consumer["Properties"]["Environment"]["Variables"]


def test_websocket_api_routes_and_stage(local: Synth) -> None:
    _, api = local.find("AWS::ApiGatewayV2::Api", lambda r: True)
    assert api["Properties"]["ProtocolType"] == "WEBSOCKET"
    assert api["Properties"]["RouteSelectionExpression"] == "$request.body.action"
    routes = {r["Properties"]["RouteKey"]: r["Properties"] for r in local.resources(ROUTE).values()}
    assert set(routes) == {"$connect", "$disconnect", "$default", "hello", "send"}
    # The function's answer goes back to the client on the message routes only.
    answered = {key for key, props in routes.items() if "RouteResponseSelectionExpression" in props}
    assert answered == {"hello", "send", "$default"}
    responses = local.resources("AWS::ApiGatewayV2::RouteResponse")
    assert len(responses) == 3
    integrations = local.resources("AWS::ApiGatewayV2::Integration")
    assert len(integrations) == 1  # one function for every route
    (integration,) = integrations.values()
    function_id, _ = local.function("widget")
    assert function_id in json.dumps(integration["Properties"]["IntegrationUri"])
    _, stage = local.find("AWS::ApiGatewayV2::Stage", lambda r: True)
    assert stage["Properties"]["StageName"] == "local"
    assert stage["Properties"]["AutoDeploy"] is True
    throttle = stage["Properties"]["DefaultRouteSettings"]
    assert throttle["ThrottlingRateLimit"] > 0 and throttle["ThrottlingBurstLimit"] > 0
    assert Output.WIDGET_URL in local.body["Outputs"]


def _manage_resources(synth: Synth, function: str) -> list[Any]:
    return [resource for action, resource in synth.allowed(function) if action == MANAGE]


def test_widget_function_grants_are_least_privilege(local: Synth) -> None:
    # The management API's ARN is built with Fn::Join: checked apart from the rest.
    table: dict[str | None, set[str]] = {}
    for action, resource in local.allowed("widget"):
        if action != MANAGE:
            table.setdefault(ref_id(resource), set()).add(action)
    assert_common(local, "widget", table)
    assert table.pop(local.queue("updates")[0]) == SQS_SEND
    assert table.pop(local.secret("widget-token-key")[0]) == SECRET_READ
    data, limits = local.table("data")[0], local.table("limits")[0]
    for table_id in (data, limits):
        actions = table.pop(table_id)
        assert {"dynamodb:GetItem", "dynamodb:PutItem", "dynamodb:Query"} <= actions
        assert not any(
            a.startswith(("dynamodb:Delete", "dynamodb:Create")) and "Item" not in a
            for a in actions
        )
    assert table == {}
    assert _manage_resources(local, "widget")
    for resource in _manage_resources(local, "widget"):
        text = json.dumps(resource)
        assert api_id(local) in text and "/local/" in text and "@connections" in text


def test_consumer_may_manage_this_apis_connections_only(local: Synth, prod: Synth) -> None:
    resources = _manage_resources(local, "consumer")
    assert resources and all(api_id(local) in json.dumps(r) for r in resources)
    assert _manage_resources(prod, "consumer") == []
    for function in ("webhook", "dlq-processor"):
        assert _manage_resources(local, function) == []
    _, consumer = local.function("consumer")
    env = consumer["Properties"]["Environment"]["Variables"]
    assert Env.WIDGET_CONNECTIONS_URL in env and Env.WIDGET_PROJECTS in env


def test_widget_function_environment(local: Synth) -> None:
    _, function = local.function("widget")
    env = function["Properties"]["Environment"]["Variables"]
    assert function["Properties"]["Handler"] == "topicdesk.handlers.widget.handler"
    projects = json.loads(env[Env.WIDGET_PROJECTS])
    assert projects == [project.as_json() for project in local.config.projects]
    assert env[Env.WIDGET_TOKEN_SECRET_NAME] == local.config.secret_name("widget-token-key")
    for name in (
        Env.UPDATES_QUEUE_URL,
        Env.DATA_TABLE,
        Env.LIMITS_TABLE,
        Env.WIDGET_CONNECTIONS_URL,
    ):
        assert name in env


def test_widget_alarms_go_to_the_stage_topic(local: Synth) -> None:
    alarms = {
        r["Properties"]["AlarmName"]: r["Properties"]
        for r in local.resources("AWS::CloudWatch::Alarm").values()
    }
    for suffix in (
        "widget-connect-refused",
        "widget-frames-refused",
        "widget-flood-closed",
        "widget-unavailable",
        "widget-integration-errors",
        "widget-errors",
        "widget-throttles",
    ):
        alarm = alarms[local.config.name(suffix)]
        assert alarm["AlarmActions"], suffix
        assert alarm["TreatMissingData"] == "notBreaching"
    refused = alarms[local.config.name("widget-connect-refused")]
    assert refused["MetricName"] == "WidgetConnectRefused" and refused["Threshold"] > 0


PROJECT = {
    "name": "shop",
    "widgetKey": "shop-widget-key-0001",
    "allowedOrigins": ["https://shop.example.com"],
    "operatorChatIds": [-1001000000001],
}


@pytest.mark.parametrize(
    ("change", "message"),
    [
        ({"allowedOrigins": ["http://shop.example.com"]}, "must be https"),
        ({"allowedOrigins": ["https://shop.example.com/path"]}, "is not an origin"),
        ({"allowedOrigins": []}, "at least one origin"),
        ({"widgetKey": "short"}, "widgetKey"),
        ({"name": "Shop!"}, "'name'"),
        ({"operatorChatIds": [-1009999999999]}, "not among the stage's"),
    ],
)
def test_projects_are_validated(change: dict[str, Any], message: str) -> None:
    with pytest.raises(ConfigError, match=message):
        stage_config("dev", projects=[{**PROJECT, **change}])


def test_two_projects_need_their_own_keys_and_http_is_local_only() -> None:
    with pytest.raises(ConfigError, match="share a widget key"):
        stage_config("dev", projects=[PROJECT, {**PROJECT, "name": "other"}])
    local = stage_config(
        "local",
        projects=[
            {
                **PROJECT,
                "allowedOrigins": ["http://127.0.0.1:8780"],
                "operatorChatIds": [-1001000000003],
            }
        ],
    )
    assert local.projects[0].allowed_origins == ("http://127.0.0.1:8780",)
    assert stage_config("dev", projects=[]).projects == ()
