"""The temporal query parameters (timerel, timeAt, endTimeAt, lastN, aggregation, timeproperty), checked."""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Literal

from cityos_runtime.problems import ProblemError

from cityos_broker.temporal.timeutil import Duration, parse_datetime, parse_duration

TimeProperty = Literal["observedAt", "createdAt", "modifiedAt"]
Mode = Literal["normalized", "temporalValues", "aggregatedValues"]
AGGREGATION_METHODS = ("totalCount", "distinctCount", "sum", "avg", "min", "max", "stddev", "sumsq")
_TIME_PROPERTIES: tuple[TimeProperty, ...] = ("observedAt", "createdAt", "modifiedAt")
_MAX_LAST_N = 1_000_000


def _bad(detail: str) -> ProblemError:
    return ProblemError("BadRequestData", detail)


@dataclass(frozen=True, slots=True)
class TimeWindow:
    """Instants t with start < t (or <= when start_inclusive) and t < end; None is unbounded."""

    start: float | None = None
    end: float | None = None
    start_inclusive: bool = True

    def contains(self, ms: float) -> bool:
        if self.start is not None and (ms < self.start or (ms == self.start and not self.start_inclusive)):
            return False
        return self.end is None or ms < self.end

    def redis_bounds(self) -> tuple[str, str]:
        """ZRANGEBYSCORE min / max for this window."""
        low = "-inf" if self.start is None else ("" if self.start_inclusive else "(") + repr(self.start)
        high = "+inf" if self.end is None else "(" + repr(self.end)
        return low, high


@dataclass(frozen=True, slots=True)
class TemporalQuery:
    """What a temporal retrieve or query asks for, beyond the entity selection."""

    window: TimeWindow
    time_property: TimeProperty
    mode: Mode
    last_n: int | None
    methods: tuple[str, ...]
    period: Duration

    @property
    def unbounded(self) -> bool:
        return self.window.start is None and self.window.end is None


def _split(raw: str) -> list[str]:
    return [item.strip() for item in raw.split(",") if item.strip()]


def parse_window(params: Mapping[str, str]) -> TimeWindow:
    """timerel with timeAt / endTimeAt; every inconsistent combination is a 400 naming the rule."""
    timerel = params.get("timerel", "")
    time_at, end_time_at = params.get("timeAt", ""), params.get("endTimeAt", "")
    if not timerel:
        if time_at or end_time_at:
            raise _bad("timeAt and endTimeAt need timerel (before, after or between)")
        return TimeWindow()
    if timerel not in ("before", "after", "between"):
        raise _bad(f"timerel must be before, after or between, got {timerel!r}")
    if not time_at:
        raise _bad(f"timerel={timerel} needs timeAt")
    start = parse_datetime(time_at, "timeAt")
    if timerel == "between":
        if not end_time_at:
            raise _bad("timerel=between needs endTimeAt")
        end = parse_datetime(end_time_at, "endTimeAt")
        if end <= start:
            raise _bad("endTimeAt must be later than timeAt")
        return TimeWindow(start, end)
    if end_time_at:
        raise _bad(f"endTimeAt is only allowed with timerel=between, not {timerel}")
    if timerel == "before":
        return TimeWindow(None, start)
    return TimeWindow(start, None, start_inclusive=False)


def _last_n(raw: str | None) -> int | None:
    if raw is None or raw == "":
        return None
    if not raw.isascii() or not raw.isdigit() or not 0 < int(raw) <= _MAX_LAST_N:
        raise _bad(f"lastN must be a positive integer up to {_MAX_LAST_N}, got {raw!r}")
    return int(raw)


def _mode(params: Mapping[str, str], methods: list[str]) -> Mode:
    options = set(_split(params.get("options", "")))
    fmt = params.get("format", "")
    temporal_values = "temporalValues" in options or fmt == "temporalValues"
    aggregated = "aggregatedValues" in options or fmt == "aggregatedValues"
    if temporal_values and aggregated:
        raise _bad("temporalValues and aggregatedValues cannot be combined")
    if aggregated or (methods and not temporal_values):
        # aggrMethods only makes sense for aggregatedValues, so it implies that representation.
        return "aggregatedValues"
    return "temporalValues" if temporal_values else "normalized"


def parse_temporal_query(params: Mapping[str, str]) -> TemporalQuery:
    """Check and normalise the temporal parameters of a retrieve or query request."""
    window = parse_window(params)
    time_property = params.get("timeproperty", "observedAt") or "observedAt"
    if time_property not in _TIME_PROPERTIES:
        raise _bad(f"timeproperty must be one of {', '.join(_TIME_PROPERTIES)}, got {time_property!r}")
    methods = _split(params.get("aggrMethods", ""))
    unknown = [m for m in methods if m not in AGGREGATION_METHODS]
    if unknown:
        raise _bad(f"unknown aggrMethods {', '.join(unknown)}; allowed: {', '.join(AGGREGATION_METHODS)}")
    mode = _mode(params, methods)
    if mode == "aggregatedValues" and not methods:
        raise _bad("aggregatedValues needs aggrMethods (e.g. aggrMethods=avg,max)")
    if mode != "aggregatedValues" and params.get("aggrPeriodDuration"):
        raise _bad("aggrPeriodDuration is only allowed with aggregatedValues")
    period = parse_duration(params.get("aggrPeriodDuration") or "PT0S", "aggrPeriodDuration")
    return TemporalQuery(
        window=window,
        time_property=time_property,
        mode=mode,
        last_n=_last_n(params.get("lastN")),
        methods=tuple(dict.fromkeys(methods)),
        period=period,
    )


def finite_number(value: object) -> float | None:
    """The value as a float when it is a finite JSON number (booleans are not numbers here)."""
    if isinstance(value, bool) or not isinstance(value, int | float):
        return None
    number = float(value)
    return number if math.isfinite(number) else None
