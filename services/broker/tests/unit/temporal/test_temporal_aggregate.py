"""aggregatedValues arithmetic and period buckets."""

from __future__ import annotations

import math
import statistics

import pytest
from cityos_broker.temporal.aggregate import aggregate, aggregate_values, buckets
from cityos_broker.temporal.params import TimeWindow
from cityos_broker.temporal.timeutil import Duration, from_ms, to_ms

HOUR = 3_600_000.0
T0 = to_ms("2026-11-22T00:00:00Z")


def test_every_method_on_numbers() -> None:
    values = [2, 4, 4, 4, 5, 5, 7, 9]
    assert aggregate_values(values, "totalCount") == 8
    assert aggregate_values(values, "distinctCount") == 5
    assert aggregate_values(values, "sum") == 40
    assert aggregate_values(values, "avg") == 5
    assert aggregate_values(values, "min") == 2
    assert aggregate_values(values, "max") == 9
    assert aggregate_values(values, "sumsq") == 4 + 16 * 3 + 25 * 2 + 49 + 81
    assert aggregate_values(values, "stddev") == pytest.approx(statistics.stdev(values))


def test_stddev_of_one_value_is_zero_and_floats_are_exact_enough() -> None:
    assert aggregate_values([3.5], "stddev") == 0.0
    assert aggregate_values([0.1] * 10, "sum") == 1.0  # fsum: no drift


def test_non_numbers() -> None:
    mixed = ["a", True, None, {"x": 1}, {"x": 1}, 3]
    assert aggregate_values(mixed, "totalCount") == 6
    assert aggregate_values(mixed, "distinctCount") == 5
    assert aggregate_values(mixed, "sum") == 3  # booleans, text and objects are not numbers
    assert aggregate_values(["b", "a"], "avg") is None
    assert aggregate_values(["2026-11-22T01:00:00Z", "2026-11-21T01:00:00Z"], "min") == "2026-11-21T01:00:00Z"
    assert aggregate_values([math.inf, 1], "max") == 1
    assert aggregate_values([True, False], "distinctCount") == 2
    assert aggregate_values([1, 1.0, True], "distinctCount") == 3


def test_bucket_edges_belong_to_the_later_period() -> None:
    points = [(T0, 1), (T0 + HOUR - 1, 2), (T0 + HOUR, 3), (T0 + 3 * HOUR + 5, 4)]
    groups = buckets(points, TimeWindow(T0, T0 + 4 * HOUR), Duration(0, HOUR))
    assert [(s - T0, e - T0, v) for s, e, v in groups] == [
        (0, HOUR, [1, 2]),
        (HOUR, 2 * HOUR, [3]),
        (3 * HOUR, 4 * HOUR, [4]),  # the empty third hour is left out
    ]


def test_periods_start_at_the_first_point_without_a_window_start() -> None:
    points = [(T0 + 10, 1), (T0 + HOUR + 9, 2), (T0 + HOUR + 10, 3)]
    groups = buckets(points, TimeWindow(), Duration(0, HOUR))
    assert [v for _, _, v in groups] == [[1, 2], [3]]
    assert groups[0][0] == T0 + 10


def test_zero_period_is_the_whole_window() -> None:
    points = [(T0 + 1, 1), (T0 + 2, 2)]
    [(start, end, values)] = buckets(points, TimeWindow(T0, T0 + HOUR), Duration(0, 0))
    assert (start, end, values) == (T0, T0 + HOUR, [1, 2])
    [(start, end, _)] = buckets(points, TimeWindow(), Duration(0, 0))
    assert (start, end) == (T0 + 1, T0 + 2)


def test_month_periods() -> None:
    jan = to_ms("2026-01-15T00:00:00Z")
    points = [(jan, 1), (to_ms("2026-02-14T23:59:59Z"), 2), (to_ms("2026-03-20T00:00:00Z"), 3)]
    groups = buckets(points, TimeWindow(jan, None), Duration(1, 0))
    assert [(from_ms(s), v) for s, _, v in groups] == [
        ("2026-01-15T00:00:00.000Z", [1, 2]),
        ("2026-03-15T00:00:00.000Z", [3]),
    ]


def test_aggregate_output_shape_for_a_day_of_minutes() -> None:
    points = [(T0 + i * 60_000, float(i)) for i in range(1440)]
    out = aggregate(
        points, TimeWindow(T0, T0 + 24 * HOUR), Duration(0, 6 * HOUR), ["avg", "totalCount", "max"]
    )
    assert [row[0] for row in out["totalCount"]] == [360] * 4
    assert out["avg"][0] == [179.5, "2026-11-22T00:00:00.000Z", "2026-11-22T06:00:00.000Z"]
    assert out["max"][-1][0] == 1439.0
