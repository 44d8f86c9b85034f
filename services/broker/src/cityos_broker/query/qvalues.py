"""Query Term values of the NGSI-LD Query Language (clause 4.9) and how they compare with target values.

A query value keeps the data type it was written in; a target value (from the stored JSON) is compared
only with query values of the same data type: "if there is no equality between the target value data type
and the Query Term value data type, then it shall be considered as not matching" (clause 4.9).
"""

from __future__ import annotations

import math
import re
from dataclasses import dataclass
from datetime import UTC, date, datetime, time
from enum import Enum
from typing import Any

import orjson


class Kind(Enum):
    """The data type of a literal Query Term value."""

    NUMBER = "number"
    STRING = "string"  # a quotedStr
    BOOLEAN = "boolean"
    DATETIME = "dateTime"
    DATE = "date"
    TIME = "time"
    URI = "uri"  # an unquoted URI (CompEqualityValue), compared as a string
    TERM = "term"  # an unquoted short name, e.g. a VocabProperty term; compared as a string


# Kinds whose values are Python strings and compare with string targets.
TEXT_KINDS = frozenset({Kind.STRING, Kind.URI, Kind.TERM})


@dataclass(frozen=True, slots=True)
class Literal:
    """One literal query value with its data type."""

    kind: Kind
    value: Any  # float | int | str | bool | datetime | date | time


@dataclass(frozen=True, slots=True)
class Range:
    """A `min..max` range, both bounds included."""

    low: Literal
    high: Literal


_NUMBER = re.compile(r"-?(?:0|[1-9][0-9]*)(?:\.[0-9]+)?(?:[eE][+-]?[0-9]+)?")
_DATETIME = re.compile(
    r"[0-9]{4}-[0-9]{2}-[0-9]{2}T[0-9]{2}:[0-9]{2}(?::[0-9]{2}(?:[.,][0-9]+)?)?(?:Z|[+-][0-9]{2}:?[0-9]{2})?"
)
_DATE = re.compile(r"[0-9]{4}-[0-9]{2}-[0-9]{2}")
_TIME = re.compile(r"[0-9]{2}:[0-9]{2}(?::[0-9]{2}(?:[.,][0-9]+)?)?(?:Z|[+-][0-9]{2}:?[0-9]{2})?")
_URI = re.compile(r"[A-Za-z][A-Za-z0-9+.\-]*:[^\s\"<>\\^`{|}]+")
_TERM = re.compile(r"[^\W\d][\w:\-]*")


class LiteralError(Exception):
    """A literal that is not a valid Query Term value (the parser turns it into a ProblemError)."""


def parse_literal(text: str) -> Literal:
    """Parse one literal (quoted string, number, boolean, DateTime, Date, Time, URI or term)."""
    if text.startswith('"'):
        try:
            decoded = orjson.loads(text)
        except orjson.JSONDecodeError as exc:
            raise LiteralError(f"invalid quoted string {text!r}") from exc
        if not isinstance(decoded, str):
            raise LiteralError(f"invalid quoted string {text!r}")
        return Literal(Kind.STRING, decoded)
    if text in ("true", "false"):
        return Literal(Kind.BOOLEAN, text == "true")
    if _NUMBER.fullmatch(text):
        try:
            number = float(text) if any(c in text for c in ".eE") else int(text)
        except ValueError as exc:  # more digits than Python converts (sys.get_int_max_str_digits)
            raise LiteralError(f"number too long {text[:20]!r}...") from exc
        if isinstance(number, float) and not math.isfinite(number):
            raise LiteralError(f"number out of range {text!r}")
        return Literal(Kind.NUMBER, number)
    if _DATETIME.fullmatch(text):
        parsed = parse_datetime(text)
        if parsed is None:
            raise LiteralError(f"invalid DateTime {text!r}")
        return Literal(Kind.DATETIME, parsed)
    if _DATE.fullmatch(text):
        parsed_date = parse_date(text)
        if parsed_date is None:
            raise LiteralError(f"invalid Date {text!r}")
        return Literal(Kind.DATE, parsed_date)
    if _TIME.fullmatch(text):
        parsed_time = parse_time(text)
        if parsed_time is None:
            raise LiteralError(f"invalid Time {text!r}")
        return Literal(Kind.TIME, parsed_time)
    if _URI.fullmatch(text):
        return Literal(Kind.URI, text)
    if _TERM.fullmatch(text):
        return Literal(Kind.TERM, text)
    raise LiteralError(
        f"invalid value {text!r}: expected a number, a quoted string, true, false, a DateTime, "
        "a Date, a Time or a URI"
    )


def parse_datetime(text: str) -> datetime | None:
    """An aware datetime from ISO 8601 text (no offset means UTC), or None."""
    try:
        parsed = datetime.fromisoformat(text.replace(",", "."))
    except ValueError:
        return None
    return parsed if parsed.tzinfo is not None else parsed.replace(tzinfo=UTC)


def parse_date(text: str) -> date | None:
    """A date from `YYYY-MM-DD`, or None."""
    if not _DATE.fullmatch(text):
        return None
    try:
        return date.fromisoformat(text)
    except ValueError:
        return None


def parse_time(text: str) -> time | None:
    """A time of day from ISO 8601 text (comparable as UTC when an offset is given), or None."""
    try:
        parsed = time.fromisoformat(text.replace(",", "."))
    except ValueError:
        return None
    if parsed.tzinfo is not None:
        # Normalise to UTC on an arbitrary day so times with different offsets compare correctly.
        offset = parsed.utcoffset()
        if offset is not None:
            moment = datetime.combine(date(2000, 1, 3), parsed.replace(tzinfo=None)) - offset
            return moment.time()
    return parsed


def target_as(kind: Kind, target: Any) -> Any:
    """The target value converted to the query value's data type, or None when the types differ."""
    if isinstance(target, dict) and "@value" in target:
        target = target["@value"]  # a JSON-LD typed literal such as {"@type": "DateTime", "@value": "..."}
    if kind is Kind.NUMBER:
        return target if isinstance(target, int | float) and not isinstance(target, bool) else None
    if kind in TEXT_KINDS:
        return target if isinstance(target, str) else None
    if kind is Kind.BOOLEAN:
        return target if isinstance(target, bool) else None
    if not isinstance(target, str):
        return None
    if kind is Kind.DATETIME:
        return parse_datetime(target) if _DATETIME.fullmatch(target) else None
    if kind is Kind.DATE:
        return parse_date(target)
    return parse_time(target) if _TIME.fullmatch(target) else None


def equals(query: Literal, target: Any) -> bool:
    """True when a scalar target equals the literal (same data type)."""
    converted = target_as(query.kind, target)
    return converted is not None and bool(converted == query.value)


def in_range(query: Range, target: Any) -> bool:
    """True when a scalar target lies in the range, bounds included (same data type)."""
    low = target_as(query.low.kind, target)
    high = target_as(query.high.kind, target)
    if low is None or high is None:
        return False
    try:
        return bool(query.low.value <= low and high <= query.high.value)
    except TypeError:  # e.g. a naive and an aware time
        return False


def compare(query: Literal, target: Any) -> int | None:
    """-1, 0 or 1 as the target is below, equal to or above the literal; None when not comparable."""
    converted = target_as(query.kind, target)
    if converted is None or query.kind is Kind.BOOLEAN:
        return None
    try:
        if converted < query.value:
            return -1
        return 1 if converted > query.value else 0
    except TypeError:
        return None
