"""Small adapters from Powertools and the OS to the domain's Metrics and Clock ports."""

from __future__ import annotations

import time

from aws_lambda_powertools import Metrics
from aws_lambda_powertools.metrics import MetricUnit


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
