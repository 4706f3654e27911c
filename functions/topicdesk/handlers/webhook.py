"""Webhook Lambda (Function URL): check, enqueue, answer. No Telegram library imported."""

from __future__ import annotations

from functools import cache
from typing import Any

from aws_lambda_powertools import Logger, Metrics, Tracer
from aws_lambda_powertools.utilities.data_classes import LambdaFunctionUrlEvent, event_source
from aws_lambda_powertools.utilities.typing import LambdaContext

from topicdesk.adapters.powertools import PowertoolsMetrics
from topicdesk.adapters.redaction import TRACED_MODULES
from topicdesk.composition.webhook import webhook_service
from topicdesk.runtime.webhook import WebhookService

logger = Logger()
tracer = Tracer(patch_modules=TRACED_MODULES)
metrics = Metrics()


@cache
def service() -> WebhookService:
    return webhook_service(PowertoolsMetrics(metrics))


@metrics.log_metrics
@logger.inject_lambda_context(clear_state=True)
@tracer.capture_lambda_handler(capture_response=False)
@event_source(data_class=LambdaFunctionUrlEvent)
def handler(event: LambdaFunctionUrlEvent, context: LambdaContext) -> dict[str, Any]:
    return service().handle(event)
