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


def _api(name: str, p: dict[str, Any], account_id: str, region: str) -> Created:
    api = _backend(account_id, region).create_api(
        api_key_selection_expression=p.get("ApiKeySelectionExpression"),
        cors_configuration=p.get("CorsConfiguration"),
        description=p.get("Description"),
        disable_schema_validation=p.get("DisableSchemaValidation"),
        disable_execute_api_endpoint=p.get("DisableExecuteApiEndpoint"),
        name=p.get("Name", name),
        protocol_type=p["ProtocolType"],
        route_selection_expression=p.get("RouteSelectionExpression"),
        tags=p.get("Tags", {}),
        version=p.get("Version"),
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
        api_id=p["ApiId"],
        connection_id=p.get("ConnectionId"),
        connection_type=p.get("ConnectionType"),
        content_handling_strategy=p.get("ContentHandlingStrategy"),
        credentials_arn=p.get("CredentialsArn"),
        description=p.get("Description"),
        integration_method=p.get("IntegrationMethod"),
        integration_subtype=p.get("IntegrationSubtype"),
        integration_type=p["IntegrationType"],
        integration_uri=p.get("IntegrationUri"),
        passthrough_behavior=p.get("PassthroughBehavior"),
        payload_format_version=p.get("PayloadFormatVersion"),
        request_parameters=p.get("RequestParameters"),
        request_templates=p.get("RequestTemplates"),
        response_parameters=p.get("ResponseParameters"),
        template_selection_expression=p.get("TemplateSelectionExpression"),
        timeout_in_millis=p.get("TimeoutInMillis"),
        tls_config=p.get("TlsConfig"),
    )
    return integration.id, {}


def _route(name: str, p: dict[str, Any], account_id: str, region: str) -> Created:
    route = _backend(account_id, region).create_route(
        api_id=p["ApiId"],
        api_key_required=bool(p.get("ApiKeyRequired", False)),
        authorization_scopes=p.get("AuthorizationScopes", []),
        authorization_type=p.get("AuthorizationType", "NONE"),
        authorizer_id=p.get("AuthorizerId"),
        model_selection_expression=p.get("ModelSelectionExpression"),
        operation_name=p.get("OperationName"),
        request_models=p.get("RequestModels"),
        request_parameters=p.get("RequestParameters"),
        route_key=p["RouteKey"],
        route_response_selection_expression=p.get("RouteResponseSelectionExpression"),
        target=p.get("Target"),
    )
    return route.route_id, {}


def _route_response(name: str, p: dict[str, Any], account_id: str, region: str) -> Created:
    response = _backend(account_id, region).create_route_response(
        api_id=p["ApiId"],
        route_id=p["RouteId"],
        route_response_key=p["RouteResponseKey"],
        model_selection_expression=p.get("ModelSelectionExpression"),
        response_models=p.get("ResponseModels"),
    )
    return response.id, {}


def register(resource_type: Callable[..., type]) -> None:
    """Add the models (``resource_type`` is ``devkit.moto.patches._resource_type``)."""
    resource_type("WebSocketApiModel", "AWS::ApiGatewayV2::Api", _api, _delete_api)
    resource_type("WebSocketStageModel", "AWS::ApiGatewayV2::Stage", _stage)
    resource_type("WebSocketIntegrationModel", "AWS::ApiGatewayV2::Integration", _integration)
    resource_type("WebSocketRouteModel", "AWS::ApiGatewayV2::Route", _route)
    resource_type(
        "WebSocketRouteResponseModel", "AWS::ApiGatewayV2::RouteResponse", _route_response
    )
