"""API Gateway v2 (the widget's WebSocket API) in moto's CloudFormation.

moto has an ``apigatewayv2`` backend but no CloudFormation models for it: the stack's API, stage,
integration, routes and route responses are created here through that backend, so the local
stage can read back what was deployed (``get_apis``, ``get_routes``, ``get_integrations``,
``get_stages``) and play the API from it (``devkit.lambda_runtime.websocket``).
"""

from __future__ import annotations

import contextlib
from collections.abc import Callable
from typing import Any

Created = tuple[str, dict[str, str]]


def _backend(account_id: str, region: str) -> Any:
    from moto.apigatewayv2.models import apigatewayv2_backends

    return apigatewayv2_backends[account_id][region]


def _arguments(p: dict[str, Any], names: str, **defaults: Any) -> dict[str, Any]:
    """moto's keyword arguments, each from the CloudFormation property of the same name in
    PascalCase (``api_id`` from ``ApiId``): None, or its default, where the template has none."""
    return {
        name: p.get("".join(part.title() for part in name.split("_")), defaults.get(name))
        for name in (*names.split(), *defaults)
    }


def _api(name: str, p: dict[str, Any], account_id: str, region: str) -> Created:
    api = _backend(account_id, region).create_api(
        **_arguments(
            p,
            "api_key_selection_expression cors_configuration description"
            " disable_schema_validation disable_execute_api_endpoint protocol_type"
            " route_selection_expression version",
            name=name,
            tags={},
        )
    )
    return api.api_id, {"ApiId": api.api_id, "ApiEndpoint": api.api_endpoint}


def _delete_api(api_id: str, account_id: str, region: str) -> None:
    with contextlib.suppress(Exception):
        _backend(account_id, region).delete_api(api_id)


def _stage(name: str, p: dict[str, Any], account_id: str, region: str) -> Created:
    config = {
        "stageName": p["StageName"],
        "autoDeploy": p.get("AutoDeploy"),
        "description": p.get("Description"),
        "stageVariables": p.get("StageVariables", {}),
        "tags": p.get("Tags", {}),
    }
    settings = p.get("DefaultRouteSettings")
    if settings:
        config["defaultRouteSettings"] = {
            "throttlingRateLimit": settings.get("ThrottlingRateLimit"),
            "throttlingBurstLimit": settings.get("ThrottlingBurstLimit"),
        }
    stage = _backend(account_id, region).create_stage(p["ApiId"], config)
    return stage.name, {}


def _integration(name: str, p: dict[str, Any], account_id: str, region: str) -> Created:
    integration = _backend(account_id, region).create_integration(
        **_arguments(
            p,
            "api_id connection_id connection_type content_handling_strategy credentials_arn"
            " description integration_method integration_subtype integration_type"
            " integration_uri passthrough_behavior payload_format_version request_parameters"
            " request_templates response_parameters template_selection_expression"
            " timeout_in_millis tls_config",
        )
    )
    return integration.id, {}


def _route(name: str, p: dict[str, Any], account_id: str, region: str) -> Created:
    route = _backend(account_id, region).create_route(
        **_arguments(
            p,
            "api_id authorizer_id model_selection_expression operation_name request_models"
            " request_parameters route_key route_response_selection_expression target",
            api_key_required=False,
            authorization_scopes=[],
            authorization_type="NONE",
        )
    )
    return route.route_id, {}


def _route_response(name: str, p: dict[str, Any], account_id: str, region: str) -> Created:
    response = _backend(account_id, region).create_route_response(
        **_arguments(
            p,
            "api_id route_id route_response_key model_selection_expression response_models",
        )
    )
    return response.id, {}


def register(resource_type: Callable[..., type]) -> None:
    """Add the models (``resource_type`` is ``devkit.moto.cloudformation._resource_type``)."""
    resource_type("WebSocketApiModel", "AWS::ApiGatewayV2::Api", _api, _delete_api)
    resource_type("WebSocketStageModel", "AWS::ApiGatewayV2::Stage", _stage)
    resource_type("WebSocketIntegrationModel", "AWS::ApiGatewayV2::Integration", _integration)
    resource_type("WebSocketRouteModel", "AWS::ApiGatewayV2::Route", _route)
    resource_type(
        "WebSocketRouteResponseModel", "AWS::ApiGatewayV2::RouteResponse", _route_response
    )
