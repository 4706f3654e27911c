"""Webhook Lambda (Function URL): check, enqueue, answer. No Telegram library imported."""

from __future__ import annotations

from functools import cache, partial
from typing import Any

import boto3
from aws_lambda_powertools import Logger, Metrics, Tracer
from aws_lambda_powertools.utilities.data_classes import LambdaFunctionUrlEvent, event_source
from aws_lambda_powertools.utilities.typing import LambdaContext

from topicdesk.adapters.aws import SqsUpdateQueue, read_secret
from topicdesk.adapters.powertools import PowertoolsMetrics
from topicdesk.runtime.webhook import WebhookService
from topicdesk.settings import Settings

logger = Logger()
tracer = Tracer()
metrics = Metrics()


@cache
def service() -> WebhookService:
    settings = Settings.from_env()
    settings.need("updates_queue_url", "webhook_secret_name")
    return WebhookService(
        queue=SqsUpdateQueue(boto3.client("sqs"), settings.updates_queue_url),
        secret=partial(read_secret, settings.webhook_secret_name),
        metrics=PowertoolsMetrics(metrics),
    )


@metrics.log_metrics
@logger.inject_lambda_context(clear_state=True)
@tracer.capture_lambda_handler(capture_response=False)
@event_source(data_class=LambdaFunctionUrlEvent)
def handler(event: LambdaFunctionUrlEvent, context: LambdaContext) -> dict[str, Any]:
    return service().handle(event)
