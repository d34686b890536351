"""How the logic counts things: a plain (name, value) callable, here backed by Powertools Metrics."""

from __future__ import annotations

from collections.abc import Callable

from aws_lambda_powertools import Metrics
from aws_lambda_powertools.metrics import MetricUnit

CountMetric = Callable[[str, float], None]


def counter(metrics: Metrics) -> CountMetric:
    def count(name: str, value: float) -> None:
        metrics.add_metric(name=name, unit=MetricUnit.Count, value=value)

    return count
