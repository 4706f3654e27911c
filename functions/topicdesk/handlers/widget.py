"""Widget edge Lambda (API Gateway WebSocket API): $connect, hello, send, $default,
$disconnect. No Telegram library imported."""

from __future__ import annotations

from functools import cache
from typing import Any

from aws_lambda_powertools import Logger, Metrics, Tracer
from aws_lambda_powertools.utilities.typing import LambdaContext

from topicdesk.adapters.powertools import PowertoolsMetrics
from topicdesk.adapters.redaction import TRACED_MODULES
from topicdesk.composition.widget import widget_edge_runtime
from topicdesk.runtime.widget import WidgetEdgeRuntime

logger = Logger()
tracer = Tracer(patch_modules=TRACED_MODULES)
metrics = Metrics()


@cache
def runtime() -> WidgetEdgeRuntime:
    return widget_edge_runtime(PowertoolsMetrics(metrics))


@metrics.log_metrics
@logger.inject_lambda_context(clear_state=True)
@tracer.capture_lambda_handler(capture_response=False)
def handler(event: dict[str, Any], context: LambdaContext) -> dict[str, Any]:
    return runtime().handle(event)
