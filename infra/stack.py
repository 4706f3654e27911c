"""The Topicdesk stack: one per stage, the whole pipeline."""

from __future__ import annotations

import aws_cdk as cdk
from cdk_nag import AwsSolutionsChecks
from constructs import Construct
from topicdesk.contract import Output

from infra.bundling import lambda_code
from infra.config import StageConfig
from infra.functions import FunctionProps, PipelineProps, TopicdeskFunction
from infra.ingress import Ingress
from infra.monitoring import Monitoring
from infra.pipeline import Pipeline
from infra.schedules import InboxSchedules
from infra.secrets import Secrets
from infra.storage import Storage
from infra.webhook_registration import WebhookRegistration
from infra.widget import Widget


class TopicdeskStack(cdk.Stack):
    def __init__(self, scope: Construct, *, config: StageConfig) -> None:
        super().__init__(
            scope,
            config.stack_name,
            description=f"Topicdesk ({config.stage}): Telegram support inbox",
            synthesizer=_synthesizer(config),
        )
        self.config = config
        self.storage = Storage(self, "Storage", config=config)
        self.secrets = Secrets(self, "Secrets", config=config)
        props = FunctionProps(config, lambda_code(), self.storage, self.secrets)
        self.pipeline = Pipeline(self, "Pipeline", props)
        around = PipelineProps.of(props, self.pipeline.updates_queue, self.pipeline.consumer)
        self.ingress = Ingress(self, "Ingress", around)
        self.inbox_schedules: InboxSchedules | None = None
        if config.inbox:  # nudges and the weekly stats digest (issue 15)
            self.inbox_schedules = InboxSchedules(self, "InboxSchedules", around)
        self.widget: Widget | None = None
        if config.projects:  # a stage without projects has no WebSocket API
            self.widget = Widget(self, "Widget", around)
        self.functions: tuple[TopicdeskFunction, ...] = (
            self.ingress.webhook,
            self.pipeline.consumer,
            self.pipeline.dlq_processor,
        )
        if self.widget is not None:
            self.functions = (*self.functions, self.widget.function)
        self.monitoring = Monitoring(
            self,
            "Monitoring",
            config=config,
            updates_queue=self.pipeline.updates_queue,
            dead_letter_queue=self.pipeline.dead_letter_queue,
            parking_queue=self.pipeline.parking_queue,
            functions=(  # the inbox's schedule function is alarmed like every other
                *self.functions,
                *([self.inbox_schedules.function] if self.inbox_schedules else []),
            ),
            consumer=self.pipeline.consumer,
            dlq_processor=self.pipeline.dlq_processor,
            webhook=self.ingress.webhook,
        )
        if self.widget is not None:
            self.widget.add_alarms(self.monitoring)
        self.webhook_registration: WebhookRegistration | None = None
        if config.register_webhook:
            self.webhook_registration = WebhookRegistration(
                self, "WebhookRegistration", props, webhook_url=self.ingress.url.url
            )
        self._outputs()
        cdk.Tags.of(self).add("project", "topicdesk")
        cdk.Tags.of(self).add("stage", config.stage)

    def _outputs(self) -> None:
        values = {
            Output.WEBHOOK_URL: self.ingress.url.url,
            Output.UPDATES_QUEUE_URL: self.pipeline.updates_queue.queue_url,
            Output.DEAD_LETTER_QUEUE_URL: self.pipeline.dead_letter_queue.queue_url,
            Output.PARKING_QUEUE_URL: self.pipeline.parking_queue.queue_url,
            Output.DATA_TABLE_NAME: self.storage.data_table.table_name,
            Output.LIMITS_TABLE_NAME: self.storage.limits_table.table_name,
            Output.IDEMPOTENCY_TABLE_NAME: self.storage.idempotency_table.table_name,
            Output.BOT_TOKEN_SECRET_NAME: self.secrets.bot_token_name,
            Output.WEBHOOK_SECRET_NAME: self.secrets.webhook_secret_name,
            Output.ALARM_TOPIC_ARN: self.monitoring.topic.topic_arn,
            Output.DASHBOARD_NAME: self.config.prefix,
            Output.WEBHOOK_FUNCTION_NAME: self.ingress.webhook.function.function_name,
            Output.CONSUMER_FUNCTION_NAME: self.pipeline.consumer.function.function_name,
            Output.DLQ_PROCESSOR_FUNCTION_NAME: self.pipeline.dlq_processor.function.function_name,
        }
        if self.webhook_registration is not None:
            values[Output.WEBHOOK_REGISTRATION_STATUS] = self.webhook_registration.status
        if self.widget is not None:
            values[Output.WIDGET_URL] = self.widget.url
            values[Output.WIDGET_API_ID] = self.widget.api.api_id
            values[Output.WIDGET_FUNCTION_NAME] = self.widget.function.function.function_name
            values[Output.WIDGET_TOKEN_SECRET_NAME] = self.widget.token_secret_name
        for name, value in values.items():
            cdk.CfnOutput(self, name, value=value)


def _synthesizer(config: StageConfig) -> cdk.IStackSynthesizer:
    if config.assets_bucket:
        # The emulated stage: no bootstrap stack, no roles to assume; assets go to a
        # bucket that local/moto_stage.py creates before `cdk deploy`.
        return cdk.CliCredentialsStackSynthesizer(
            file_assets_bucket_name=config.assets_bucket,
            bucket_prefix=f"{config.stack_name}/",
        )
    return cdk.DefaultStackSynthesizer()


def build_app(app: cdk.App, config: StageConfig) -> TopicdeskStack:
    """Add the stage's stack to the app, checked by cdk-nag's AWS Solutions pack."""
    stack = TopicdeskStack(app, config=config)
    add_checks(app)
    return stack


def add_checks(app: cdk.App) -> None:
    """cdk-nag 3 is a CDK policy-validation plugin (it replaced v2's Aspect): synth fails
    on any finding that is not acknowledged. Acknowledgments (infra/nag.py, next to the
    constructs) are also written into the template's Metadata as an audit trail."""
    cdk.Validations.of(app).add_plugins(
        AwsSolutionsChecks(app, verbose=True, write_suppressions_to_cloud_formation=True)
    )
