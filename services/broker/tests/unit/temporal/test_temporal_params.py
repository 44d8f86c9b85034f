"""Temporal parameters: timerel rules, lastN, aggregation methods, durations and DateTimes."""

from __future__ import annotations

import pytest
from cityos_broker.temporal.params import TimeWindow, parse_temporal_query, parse_window
from cityos_broker.temporal.timeutil import Duration, day_bounds, day_of, from_ms, parse_duration, to_ms
from cityos_runtime.problems import ProblemError

T0 = "2026-11-20T00:00:00Z"
T1 = "2026-11-21T00:00:00Z"


def _problem(params: dict[str, str]) -> ProblemError:
    with pytest.raises(ProblemError) as caught:
        parse_temporal_query(params)
    return caught.value


@pytest.mark.parametrize(
    ("params", "fragment"),
    [
        ({"timerel": "during", "timeAt": T0}, "before, after or between"),
        ({"timerel": "before"}, "needs timeAt"),
        ({"timeAt": T0}, "need timerel"),
        ({"timerel": "between", "timeAt": T0}, "needs endTimeAt"),
        ({"timerel": "between", "timeAt": T1, "endTimeAt": T0}, "later than timeAt"),
        ({"timerel": "between", "timeAt": T0, "endTimeAt": T0}, "later than timeAt"),
        ({"timerel": "after", "timeAt": T0, "endTimeAt": T1}, "only allowed with timerel=between"),
        ({"timerel": "after", "timeAt": "yesterday"}, "ISO 8601 DateTime"),
        ({"timerel": "after", "timeAt": "2026-11-20"}, "ISO 8601 DateTime"),
        ({"lastN": "0"}, "positive integer"),
        ({"lastN": "-3"}, "positive integer"),
        ({"lastN": "ten"}, "positive integer"),
        ({"aggrMethods": "avg,median"}, "unknown aggrMethods median"),
        ({"options": "aggregatedValues"}, "needs aggrMethods"),
        ({"options": "temporalValues,aggregatedValues", "aggrMethods": "avg"}, "cannot be combined"),
        ({"aggrPeriodDuration": "PT1H"}, "only allowed with aggregatedValues"),
        ({"aggrMethods": "sum", "aggrPeriodDuration": "1 hour"}, "ISO 8601 duration"),
        ({"timeproperty": "deletedAt"}, "timeproperty must be one of"),
    ],
)
def test_invalid_parameters_are_bad_request_data(params: dict[str, str], fragment: str) -> None:
    problem = _problem(params)
    assert problem.kind == "BadRequestData"
    assert problem.status == 400
    assert fragment in problem.detail


def test_windows_follow_timerel() -> None:
    t0, t1 = to_ms(T0), to_ms(T1)
    assert parse_window({}) == TimeWindow()
    before = parse_window({"timerel": "before", "timeAt": T0})
    assert before == TimeWindow(None, t0)
    assert before.contains(t0 - 1) and not before.contains(t0)
    after = parse_window({"timerel": "after", "timeAt": T0})
    assert not after.contains(t0) and after.contains(t0 + 1)
    between = parse_window({"timerel": "between", "timeAt": T0, "endTimeAt": T1})
    assert between.contains(t0) and between.contains(t1 - 1) and not between.contains(t1)
    assert between.redis_bounds() == (repr(t0), "(" + repr(t1))
    assert after.redis_bounds() == ("(" + repr(t0), "+inf")


def test_modes() -> None:
    assert parse_temporal_query({}).mode == "normalized"
    assert parse_temporal_query({"options": "temporalValues"}).mode == "temporalValues"
    assert parse_temporal_query({"format": "temporalValues"}).mode == "temporalValues"
    aggregated = parse_temporal_query({"aggrMethods": "avg,max,avg", "aggrPeriodDuration": "PT1H"})
    assert aggregated.mode == "aggregatedValues"
    assert aggregated.methods == ("avg", "max")
    assert aggregated.period == Duration(0, 3_600_000.0)
    assert parse_temporal_query({"lastN": "5", "timeproperty": "modifiedAt"}).last_n == 5


@pytest.mark.parametrize(
    ("text", "months", "millis"),
    [
        ("PT0S", 0, 0.0),
        ("PT1M", 0, 60_000.0),
        ("PT1H30M", 0, 5_400_000.0),
        ("P1D", 0, 86_400_000.0),
        ("P1W", 0, 604_800_000.0),
        ("P1M", 1, 0.0),
        ("P1Y2M3DT4H5M6.5S", 14, (3 * 86_400 + 4 * 3_600 + 5 * 60 + 6.5) * 1000),
    ],
)
def test_durations(text: str, months: int, millis: float) -> None:
    assert parse_duration(text, "d") == Duration(months, millis)


@pytest.mark.parametrize("text", ["", "P", "PT", "P1DT", "1H", "PT1.5H", "P-1D", "PTH", "p1d"])
def test_bad_durations(text: str) -> None:
    with pytest.raises(ProblemError) as caught:
        parse_duration(text, "aggrPeriodDuration")
    assert caught.value.kind == "BadRequestData"


def test_months_follow_the_calendar() -> None:
    jan31 = to_ms("2026-01-31T12:00:00Z")
    assert from_ms(Duration(1, 0).add_to(jan31)) == "2026-02-28T12:00:00.000Z"
    assert from_ms(Duration(12, 0).add_to(jan31)) == "2027-01-31T12:00:00.000Z"


def test_datetimes_and_days() -> None:
    ms = to_ms("2026-11-22T03:04:05.678Z")
    assert from_ms(ms) == "2026-11-22T03:04:05.678Z"
    assert to_ms("2026-11-22T12:04:05.678+09:00") == ms
    assert to_ms("2026-11-22T03:04:05.678") == ms  # no zone: UTC
    assert day_of(ms) == "2026-11-22"
    start, end = day_bounds("2026-11-22")
    assert from_ms(start) == "2026-11-22T00:00:00.000Z" and end - start == 86_400_000
