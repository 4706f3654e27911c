"""Consumer Lambda (SQS FIFO updates queue): partial batch responses, idempotent updates."""

from __future__ import annotations

from functools import cache
from typing import Any

from aws_lambda_powertools import Logger, Metrics, Tracer
from aws_lambda_powertools.utilities.typing import LambdaContext

from topicdesk.adapters.powertools import PowertoolsMetrics
from topicdesk.adapters.redaction import TRACED_MODULES
from topicdesk.composition.consumer import consumer_runtime
from topicdesk.runtime.consumer import ConsumerRuntime

logger = Logger()
tracer = Tracer(patch_modules=TRACED_MODULES)
metrics = Metrics()


@cache
def runtime() -> ConsumerRuntime:
    return consumer_runtime(PowertoolsMetrics(metrics))


@metrics.log_metrics
@logger.inject_lambda_context(clear_state=True)
@tracer.capture_lambda_handler(capture_response=False)
def handler(event: dict[str, Any], context: LambdaContext) -> dict[str, Any]:
    return runtime().handle(event, context)
