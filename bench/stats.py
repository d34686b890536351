"""Small statistics helpers (no numpy): percentiles as linear interpolation between closest ranks."""

from __future__ import annotations

import math
import statistics
from collections.abc import Sequence


def percentile(values: Sequence[float], q: float) -> float:
    """The q-th percentile (0..100) of values, interpolating between closest ranks (numpy's default)."""
    if not values:
        return math.nan
    ordered = sorted(values)
    if len(ordered) == 1:
        return float(ordered[0])
    rank = (len(ordered) - 1) * q / 100.0
    low = math.floor(rank)
    high = min(low + 1, len(ordered) - 1)
    return float(ordered[low] + (ordered[high] - ordered[low]) * (rank - low))


def summary_ms(seconds: Sequence[float]) -> dict[str, float]:
    """p50, p95, p99, mean and max of durations given in seconds, in milliseconds."""
    ms = [s * 1000.0 for s in seconds]
    return {
        "n": len(ms),
        "p50": percentile(ms, 50),
        "p95": percentile(ms, 95),
        "p99": percentile(ms, 99),
        "mean": statistics.fmean(ms) if ms else math.nan,
        "max": max(ms) if ms else math.nan,
    }


def median(values: Sequence[float]) -> float:
    return float(statistics.median(values)) if values else math.nan


def ratio(value: float, baseline: float) -> float:
    return value / baseline if baseline else math.nan


def rounded(value: float | None, digits: int = 2) -> float | None:
    if value is None or (isinstance(value, float) and math.isnan(value)):
        return None
    return round(float(value), digits)
