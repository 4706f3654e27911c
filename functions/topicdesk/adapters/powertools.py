"""Small adapters from Powertools and the OS to the domain's Metrics and Clock ports, and the
Powertools wrapping every Lambda entry point shares (``lambda_entry``)."""

from __future__ import annotations

import functools
import gc
import time
from collections.abc import Callable
from typing import Any, TypeVar

from aws_lambda_powertools import Logger, Metrics, Tracer
from aws_lambda_powertools.metrics import MetricUnit
from aws_lambda_powertools.utilities.typing import LambdaContext

from topicdesk.adapters.redaction import TRACED_MODULES

R = TypeVar("R")
Handler = Callable[[Any, Any], dict[str, Any]]
"""A Lambda handler: (event, context); the context a LambdaContext or a stand-in for one."""


class PowertoolsMetrics:
    def __init__(self, metrics: Metrics) -> None:
        self._metrics = metrics

    def count(self, name: str, value: float = 1) -> None:
        self._metrics.add_metric(name=name, unit=MetricUnit.Count, value=value)

    def dimension(self, name: str, value: str) -> None:
        """A dimension for this invocation's metrics (Powertools clears it on flush)."""
        self._metrics.add_dimension(name=name, value=value)

    def milliseconds(self, name: str, value: float) -> None:
        self._metrics.add_metric(name=name, unit=MetricUnit.Milliseconds, value=value)


class SystemClock:
    def now(self) -> float:
        return time.time()


def lambda_entry(
    build: Callable[[PowertoolsMetrics], R],
    invoke: Callable[[R, Any, LambdaContext], dict[str, Any]],
    *,
    traced: bool = True,
) -> tuple[functools._lru_cache_wrapper[R], Handler]:
    """A Lambda function's ``(runtime, handler)``: ``build`` makes its runtime once per container
    (``runtime.cache_clear()`` makes the next invocation a cold start again), then everything
    alive is moved out of the cyclic GC's generations (``gc.freeze``); the handler runs
    ``invoke`` on it inside Powertools' metrics (flushed after each invocation), logger (the
    Lambda context injected, state cleared) and, when ``traced``, tracer (X-Ray subsegments for
    the handler and every botocore call; responses are not captured).

    ``traced=False`` is for a function whose cold start matters more than its subsegments (the
    webhook): Powertools' Tracer imports the X-Ray SDK when it is made, even with tracing off
    (about half the webhook's import). Lambda's active tracing still records each invocation
    (its init, invocation and overhead) without the SDK, and botocore itself forwards the trace
    id (``_X_AMZN_TRACE_ID``, as the ``X-Amzn-Trace-Id`` header), so SQS carries the trace on to
    the consumer."""
    logger, metrics = Logger(), Metrics()

    @functools.cache
    def runtime() -> R:
        if gc.get_freeze_count():  # a rebuild (tests, cache_clear): the last one may go now
            gc.unfreeze()
            gc.collect()
        built = build(PowertoolsMetrics(metrics))
        # What the container's init made (imported modules, botocore's service models, PTB's
        # Application) lives as long as the container: moved out of the cyclic GC's reach, a
        # full collection scans only what invocations made since. In make bench's consumer a
        # full collection (about 160 ms, with moto's objects in the heap too) fell in every
        # 100 updates or so: 1.6 ms of CPU per update (issue 16). The price: a cycle among the
        # init's objects that becomes garbage later (a Bot replaced after a token rotation)
        # is not freed.
        gc.freeze()
        return built

    def handler(event: Any, context: LambdaContext) -> dict[str, Any]:
        return invoke(runtime(), event, context)

    if traced:
        handler = Tracer(patch_modules=TRACED_MODULES).capture_lambda_handler(
            handler, capture_response=False
        )
    return runtime, metrics.log_metrics(logger.inject_lambda_context(handler, clear_state=True))
