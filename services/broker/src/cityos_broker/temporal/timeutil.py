"""Instants as epoch milliseconds, ISO 8601 DateTimes and durations (aggrPeriodDuration, retention)."""

from __future__ import annotations

import calendar
import re
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

from cityos_runtime.problems import ProblemError

_DURATION = re.compile(
    r"P(?:(?P<years>\d+)Y)?(?:(?P<months>\d+)M)?(?:(?P<weeks>\d+)W)?(?:(?P<days>\d+)D)?"
    r"(?:T(?:(?P<hours>\d+)H)?(?:(?P<minutes>\d+)M)?(?:(?P<seconds>\d+(?:\.\d+)?)S)?)?"
)
_MAX_DURATION_PART = 1_000_000


def to_ms(text: str) -> float:
    """Epoch milliseconds of an ISO 8601 DateTime (no zone means UTC); ValueError when malformed."""
    if "T" not in text:
        raise ValueError(f"{text!r} has no time part")
    moment = datetime.fromisoformat(text)
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=UTC)
    return moment.timestamp() * 1000.0


def parse_datetime(text: str, name: str) -> float:
    """Epoch milliseconds of a request DateTime parameter; ProblemError BadRequestData when malformed."""
    try:
        return to_ms(text)
    except (ValueError, OverflowError):
        raise ProblemError(
            "BadRequestData",
            f"{name} must be an ISO 8601 DateTime such as 2026-11-22T03:00:00Z, got {text!r}",
        ) from None


def from_ms(ms: float) -> str:
    """The ISO 8601 UTC text (`Z`, milliseconds) of epoch milliseconds."""
    moment = datetime.fromtimestamp(ms / 1000.0, UTC)
    return moment.strftime("%Y-%m-%dT%H:%M:%S.") + f"{moment.microsecond // 1000:03d}Z"


def day_of(ms: float) -> str:
    """The UTC day (YYYY-MM-DD) an instant falls in: the archive's object granularity."""
    return datetime.fromtimestamp(ms / 1000.0, UTC).strftime("%Y-%m-%d")


def day_bounds(day: str) -> tuple[float, float]:
    """[start, end) of a UTC day in epoch milliseconds."""
    start = datetime.strptime(day, "%Y-%m-%d").replace(tzinfo=UTC)
    return start.timestamp() * 1000.0, (start + timedelta(days=1)).timestamp() * 1000.0


@dataclass(frozen=True, slots=True)
class Duration:
    """An ISO 8601 duration split into calendar months and fixed milliseconds (days are 24 h in UTC)."""

    months: int
    millis: float

    @property
    def is_zero(self) -> bool:
        return self.months == 0 and self.millis == 0

    def add_to(self, ms: float) -> float:
        """`ms` moved forward by this duration (months by the calendar, clamping the day of month)."""
        if self.months:
            moment = datetime.fromtimestamp(ms / 1000.0, UTC)
            month_index = moment.month - 1 + self.months
            year, month = moment.year + month_index // 12, month_index % 12 + 1
            day = min(moment.day, calendar.monthrange(year, month)[1])
            ms = moment.replace(year=year, month=month, day=day).timestamp() * 1000.0
        return ms + self.millis

    def approx_millis(self) -> float:
        """A month counted as 30 days: for settings that only need an order of magnitude."""
        return self.months * 30 * 86_400_000.0 + self.millis


def parse_duration(text: str, name: str) -> Duration:
    """An ISO 8601 duration (PnYnMnWnDTnHnMnS); ProblemError BadRequestData when malformed."""
    match = _DURATION.fullmatch(text) if text not in ("P", "PT") and not text.endswith("T") else None
    if match is None:
        raise ProblemError(
            "BadRequestData", f"{name} must be an ISO 8601 duration such as PT1H or P1D, got {text!r}"
        )
    parts = {key: float(value) for key, value in match.groupdict().items() if value is not None}
    if any(value > _MAX_DURATION_PART for value in parts.values()):
        raise ProblemError("BadRequestData", f"{name} {text!r} is out of range")
    months = int(parts.get("years", 0)) * 12 + int(parts.get("months", 0))
    seconds = (
        parts.get("weeks", 0) * 604_800
        + parts.get("days", 0) * 86_400
        + parts.get("hours", 0) * 3_600
        + parts.get("minutes", 0) * 60
        + parts.get("seconds", 0)
    )
    return Duration(months, seconds * 1000.0)
