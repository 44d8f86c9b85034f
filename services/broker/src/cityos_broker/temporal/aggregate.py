"""aggregatedValues: per-period aggregates of one attribute's instances (pure Python, one pass per bucket)."""

from __future__ import annotations

import math
from collections.abc import Sequence
from typing import Any

import orjson

from cityos_broker.temporal.params import TimeWindow, finite_number
from cityos_broker.temporal.timeutil import Duration, from_ms

Point = tuple[float, Any]  # (epoch ms, value)
Aggregates = dict[str, list[list[Any]]]  # method -> [[value, startAt, endAt], ...]


def _distinct_key(value: Any) -> Any:
    if isinstance(value, dict | list):
        return orjson.dumps(value, option=orjson.OPT_SORT_KEYS)
    return (type(value).__name__, value)


def aggregate_values(values: Sequence[Any], method: str) -> Any | None:
    """One aggregate of a bucket's values; None when the method does not apply to any of them."""
    if method == "totalCount":
        return len(values)
    if method == "distinctCount":
        return len({_distinct_key(v) for v in values})
    numbers = [n for n in (finite_number(v) for v in values) if n is not None]
    if method in ("min", "max"):
        if numbers:
            return min(numbers) if method == "min" else max(numbers)
        texts = [v for v in values if isinstance(v, str)]  # DateTimes and text order lexically
        if texts:
            return min(texts) if method == "min" else max(texts)
        return None
    if not numbers:
        return None
    if method == "sum":
        return math.fsum(numbers)
    if method == "avg":
        return math.fsum(numbers) / len(numbers)
    if method == "sumsq":
        return math.fsum(n * n for n in numbers)
    if method == "stddev":
        # Sample standard deviation (n - 1), as SQL's stddev; a single value deviates by 0.
        if len(numbers) < 2:
            return 0.0
        mean = math.fsum(numbers) / len(numbers)
        return math.sqrt(math.fsum((n - mean) ** 2 for n in numbers) / (len(numbers) - 1))
    raise ValueError(f"unknown aggregation method {method!r}")


def buckets(
    points: Sequence[Point], window: TimeWindow, period: Duration
) -> list[tuple[float, float, list[Any]]]:
    """Group time-ordered points into [start, end) periods of `period` from the window start.

    Without a window start the first point starts the first period; a zero period is one bucket over
    the whole window (its end is the window end, else the last point's time). Empty periods are left out.
    """
    if not points:
        return []
    origin = window.start if window.start is not None else points[0][0]
    if period.is_zero:
        end = window.end if window.end is not None else points[-1][0]
        return [(origin, end, [value for _, value in points])]
    result: list[tuple[float, float, list[Any]]] = []
    start, end = origin, period.add_to(origin)
    current: list[Any] = []
    for at, value in points:
        if at >= end:
            if current:
                result.append((start, end, current))
                current = []
            if not period.months:
                # Jump over empty periods at once: data may have gaps of many periods.
                skipped = math.floor((at - origin) / period.millis)
                start = origin + skipped * period.millis
                end = start + period.millis
            while at >= end:
                start, end = end, period.add_to(end)
        current.append(value)
    if current:
        result.append((start, end, current))
    return result


def aggregate(
    points: Sequence[Point], window: TimeWindow, period: Duration, methods: Sequence[str]
) -> Aggregates:
    """Every requested method over every period: {method: [[value, startAt, endAt], ...]}."""
    out: Aggregates = {method: [] for method in methods}
    for start, end, values in buckets(points, window, period):
        start_text, end_text = from_ms(start), from_ms(end)
        for method in methods:
            value = aggregate_values(values, method)
            if value is not None:
                out[method].append([value, start_text, end_text])
    return out
