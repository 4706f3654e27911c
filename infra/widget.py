"""The web widget's edge: an API Gateway WebSocket API, its stage and routes, one Lambda.

Every route (``$connect``, ``hello``, ``send``, ``$default``, ``$disconnect``) goes to the
widget function (``topicdesk.handlers.widget``); the message routes return the function's
answer to the client (a route response), so an ack costs no management API call. The
consumer (which pushes operators' answers) and the widget function (which closes flooding
connections) may call the management API of this stage and nothing else.
"""

from __future__ import annotations

import aws_cdk as cdk
from aws_cdk import aws_apigatewayv2 as apigw
from aws_cdk import aws_apigatewayv2_integrations as integrations
from aws_cdk import aws_cloudwatch as cloudwatch
from aws_cdk import aws_sqs as sqs
from constructs import Construct
from topicdesk.contract import Env

from infra.definitions import WIDGET
from infra.functions import PipelineProps, TopicdeskFunction
from infra.monitoring import Monitoring
from infra.nag import acknowledge
from infra.secrets import generated_secret
from infra.storage import Storage
from infra.widget_config import projects_json

ROUTES = ("hello", "send")
"""The client's actions (``$request.body.action``); anything else goes to ``$default``."""
THROTTLE_RATE = 100
"""Steady messages (and connects) per second over the whole stage; the per-session pace in
the function is what a visitor meets first."""
THROTTLE_BURST = 200
REFUSED_CONNECT_BURST = 100
REFUSED_FRAME_BURST = 300
FLOOD_CLOSED_BURST = 20
FIVE_MINUTES = cdk.Duration.minutes(5)
TOKEN_KEY_LENGTH = 64


class Widget(Construct):
    def __init__(self, scope: Construct, construct_id: str, props: PipelineProps) -> None:
        super().__init__(scope, construct_id)
        config = self._config = props.config
        storage, updates_queue, consumer = props.storage, props.updates_queue, props.consumer
        self.token_secret_name = config.secret_name("widget-token-key")
        self.token_secret = generated_secret(
            self,
            "TokenKey",
            config,
            self.token_secret_name,
            "key(s) signing widget session tokens",
            TOKEN_KEY_LENGTH,
        )
        acknowledge(
            self.token_secret,
            "AwsSolutions-SMG4",
            "Rotation is by hand and without logouts: put the new key on the first line and "
            "keep the old one below it (every line verifies, the first signs); drop the old "
            "line 30 days later. A rotation Lambda could not keep the old key verifying.",
        )
        self.api = apigw.WebSocketApi(
            self,
            "Api",
            api_name=config.name("widget"),
            description=f"Topicdesk {config.stage}: the web chat widget's WebSocket API",
            route_selection_expression="$request.body.action",
        )
        self.stage = apigw.WebSocketStage(
            self,
            "Stage",
            web_socket_api=self.api,
            stage_name=config.stage,
            auto_deploy=True,
            throttle=apigw.ThrottleSettings(rate_limit=THROTTLE_RATE, burst_limit=THROTTLE_BURST),
        )
        environment = self._environment(storage, updates_queue)
        self.function = TopicdeskFunction(self, props, WIDGET, environment)
        integration = integrations.WebSocketLambdaIntegration("Edge", self.function.function)
        for route in ("$connect", "$disconnect"):
            self.api.add_route(route, integration=integration)
        for route in (*ROUTES, "$default"):
            self.api.add_route(route, integration=integration, return_response=True)
        updates_queue.grant_send_messages(self.function.function)
        storage.data_table.grant_read_write_data(self.function.function)
        storage.limits_table.grant_read_write_data(self.function.function)
        self.token_secret.grant_read(self.function.function)
        self.stage.grant_management_api_access(self.function.function)
        # The consumer pushes operators' answers to this stage's connections.
        self.stage.grant_management_api_access(consumer.function)
        consumer.function.add_environment(Env.WIDGET_CONNECTIONS_URL, self.stage.callback_url)
        consumer.function.add_environment(Env.WIDGET_PROJECTS, projects_json(config.projects))
        self._acknowledge(consumer)

    @property
    def url(self) -> str:
        """wss://<api>.execute-api.<region>.amazonaws.com/<stage>"""
        return self.stage.url

    def _environment(self, storage: Storage, updates_queue: sqs.IQueue) -> dict[str, str]:
        limits = self._config.limits
        return {
            Env.WIDGET_PROJECTS: projects_json(self._config.projects),
            Env.WIDGET_TOKEN_SECRET_NAME: self.token_secret_name,
            Env.WIDGET_CONNECTIONS_URL: self.stage.callback_url,
            Env.UPDATES_QUEUE_URL: updates_queue.queue_url,
            Env.DATA_TABLE: storage.data_table.table_name,
            Env.LIMITS_TABLE: storage.limits_table.table_name,
            # A visitor's pace is a Telegram person's; a project's, its groups' budget.
            Env.LIMIT_PERSON_BURST: str(limits.person_burst),
            Env.LIMIT_PERSON_INTERVAL_SECONDS: str(limits.person_interval_seconds),
            Env.LIMIT_GROUP_PER_MINUTE: str(limits.group_per_minute),
        }

    def _acknowledge(self, consumer: TopicdeskFunction) -> None:
        api = self.api.node.default_child
        assert isinstance(api, cdk.CfnResource)
        connections = (
            "arn:<AWS::Partition>:execute-api:<AWS::Region>:<AWS::AccountId>:"
            f"<{cdk.Stack.of(self).get_logical_id(api)}>/{self._config.stage}/*/@connections/*"
        )
        for function in (self.function, consumer):
            acknowledge(
                function.role,
                f"AwsSolutions-IAM5[Resource::{connections}]",
                "execute-api:ManageConnections on this API's stage: the connection ids are "
                "made by API Gateway at run time, so the ARN ends in @connections/* (the method "
                "part is *: POST, GET and DELETE of a connection are all the job).",
            )
        acknowledge(
            self.api,
            "AwsSolutions-APIG4",
            "Visitors are anonymous by design (a support widget on public pages): $connect's "
            "function checks the project's widget key and the page's Origin and refuses the "
            "handshake (403) otherwise; every later frame needs the connection it accepted.",
        )
        acknowledge(
            self.stage,
            "AwsSolutions-APIG1",
            "WebSocket access logs need the account-wide API Gateway CloudWatch role, which a "
            "per-stage stack must not own; the widget function logs every connect, refusal and "
            "frame it handles (with the connection id), and the stage's metrics are alarmed.",
        )

    def add_alarms(self, monitoring: Monitoring) -> None:
        """Refusal bursts (a probe, a misconfigured page) and failures, to the stage's topic
        (its errors and throttles come with the stage's functions)."""

        def app(name: str) -> cloudwatch.Metric:
            return monitoring.app_metric(self.function, name, statistic=cloudwatch.Stats.SUM)

        api_errors = cloudwatch.Metric(
            namespace="AWS/ApiGateway",
            metric_name="IntegrationError",
            dimensions_map={"ApiId": self.api.api_id, "Stage": self.stage.stage_name},
            statistic=cloudwatch.Stats.SUM,
            period=FIVE_MINUTES,
        )
        monitoring._alarm(
            "WidgetConnectRefused",
            "widget-connect-refused",
            app("WidgetConnectRefused"),
            threshold=REFUSED_CONNECT_BURST,
            description=(
                f"More than {REFUSED_CONNECT_BURST} widget connections were refused in 5 minutes "
                "(unknown key or an origin not allowed): a probe, or a project's page moved to "
                "an origin cdk.json does not list"
            ),
        )
        monitoring._alarm(
            "WidgetFramesRefused",
            "widget-frames-refused",
            app("WidgetFramesRefused"),
            threshold=REFUSED_FRAME_BURST,
            description=(
                f"More than {REFUSED_FRAME_BURST} widget frames were refused in 5 minutes "
                "(bad frames, forged tokens, sends over the pace): the function's log says which"
            ),
        )
        monitoring._alarm(
            "WidgetFloodClosed",
            "widget-flood-closed",
            app("WidgetFloodClosed"),
            threshold=FLOOD_CLOSED_BURST,
            description=(
                f"More than {FLOOD_CLOSED_BURST} widget connections were closed for flooding in "
                "5 minutes: a script hammering the chat (each reconnect is paced again)"
            ),
        )
        monitoring._alarm(
            "WidgetUnavailable",
            "widget-unavailable",
            app("WidgetUnavailable"),
            description=(
                "The widget function could not reach DynamoDB or SQS: visitors were told to "
                "resend later"
            ),
        )
        monitoring._alarm(
            "WidgetIntegrationErrors",
            "widget-integration-errors",
            api_errors,
            description=(
                "API Gateway could not invoke the widget function (or it failed): visitors' "
                "frames went unanswered"
            ),
        )
