"""DLQ processor Lambda: archive each dead update, tell its writer, alert on-call, count it."""

from __future__ import annotations

from functools import cache
from typing import Any

from aws_lambda_powertools import Logger, Metrics, Tracer
from aws_lambda_powertools.utilities.typing import LambdaContext

from topicdesk.adapters.powertools import PowertoolsMetrics
from topicdesk.adapters.redaction import TRACED_MODULES
from topicdesk.composition.dead_letters import dead_letter_runtime
from topicdesk.runtime.dead_letters import DeadLetterRuntime

logger = Logger()
tracer = Tracer(patch_modules=TRACED_MODULES)
metrics = Metrics()


@cache
def runtime() -> DeadLetterRuntime:
    return dead_letter_runtime(PowertoolsMetrics(metrics))


@metrics.log_metrics
@logger.inject_lambda_context(clear_state=True)
@tracer.capture_lambda_handler(capture_response=False)
def handler(event: dict[str, Any], context: LambdaContext) -> dict[str, Any]:
    return runtime().handle(event, context)
