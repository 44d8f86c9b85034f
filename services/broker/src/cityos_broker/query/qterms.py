"""The syntax tree of a compiled `q`: Query Terms and their AND / OR combinations (clause 4.9 semantics)."""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any, Protocol

from cityos_broker.query.qpath import AttributePath, TargetKind
from cityos_broker.query.qvalues import TEXT_KINDS, Kind, Literal, Range, compare, equals, in_range

Bounds = tuple[float | None, float | None]
# Scores are doubles: integers beyond 2**53 may round, so a bound that large could count them wrongly.
_EXACT_SCORE_LIMIT = 2.0**53


@dataclass(frozen=True, slots=True)
class ExactRange:
    """A term that holds exactly when a plain attribute's one number lies within the bounds.

    `low_open` / `high_open`: the bound itself is excluded (> and <). None: unbounded on that side.
    """

    attribute: str
    low: float | None
    high: float | None
    low_open: bool = False
    high_open: bool = False


# Ordering operators and the comparison results they accept.
_ORDERING: dict[str, tuple[int, ...]] = {">": (1,), ">=": (0, 1), "<": (-1,), "<=": (-1, 0)}


class Node(Protocol):
    """A node of the compiled expression."""

    def matches(self, entity: Mapping[str, Any]) -> bool: ...

    def attributes(self) -> set[str]: ...

    def required(self) -> frozenset[str]: ...

    def ranges(self) -> dict[str, Bounds]: ...


@dataclass(frozen=True, slots=True)
class Term:
    """One Query Term: an attribute path with an optional operator and value(s)."""

    path: AttributePath
    operator: str | None = None  # None: existence
    values: tuple[Literal | Range, ...] = ()
    vocab_values: tuple[Literal | Range, ...] = ()  # `values` with text expanded, for VocabProperty
    pattern: re.Pattern[str] | None = None

    def matches(self, entity: Mapping[str, Any]) -> bool:
        """True when any target value reached by the path satisfies the term."""
        for kind, target in self.path.targets(entity):  # noqa: SIM110 - no generator on the hot path
            if self._accepts(kind, target):
                return True
        return False

    def _accepts(self, kind: TargetKind, target: Any) -> bool:
        op = self.operator
        if op is None:
            return True
        values = self.vocab_values if kind is TargetKind.VOCAB else self.values
        if op == "==":
            return _equal(values, target)
        if op == "!=":
            return not _equal(values, target)
        if kind is TargetKind.OBJECT:  # clause 4.9: other operators never match a Relationship
            return False
        if self.pattern is not None:
            return _pattern(self.pattern, target, negate=op == "!~=")
        literal = values[0]
        assert isinstance(literal, Literal)
        accepted = _ORDERING[op]
        if isinstance(target, list):
            return any(compare(literal, item) in accepted for item in target)
        return compare(literal, target) in accepted

    def attributes(self) -> set[str]:
        return {self.path.attribute}

    def required(self) -> frozenset[str]:
        # Every operator, != and !~= included, needs the target element to exist (clause 4.9).
        return frozenset({self.path.attribute})

    def exact_range(self) -> ExactRange | None:
        """The range this term is equivalent to on an attribute holding one plain number, else None.

        Only `attr op number` (op one of > >= < <=), `attr==number` and `attr==lo..hi` on a plain path:
        for an entity whose attribute is one Property with a finite number these match exactly when the
        number lies in the range (a list `==a,b`, other types and other paths are left to `matches`).
        """
        if not self.path.is_plain or self.pattern is not None or len(self.values) != 1:
            return None
        value = self.values[0]
        if isinstance(value, Range):
            numeric = value.low.kind is Kind.NUMBER and value.high.kind is Kind.NUMBER
            if self.operator != "==" or not numeric:
                return None
            low, high = float(value.low.value), float(value.high.value)
            found = ExactRange(self.path.attribute, low, high)
        elif value.kind is not Kind.NUMBER:
            return None
        else:
            number = float(value.value)
            op = self.operator
            if op == "==":
                found = ExactRange(self.path.attribute, number, number)
            elif op in (">", ">="):
                found = ExactRange(self.path.attribute, number, None, low_open=op == ">")
            elif op in ("<", "<="):
                found = ExactRange(self.path.attribute, None, number, high_open=op == "<")
            else:
                return None
        bounds = [b for b in (found.low, found.high) if b is not None]
        return found if all(abs(b) < _EXACT_SCORE_LIMIT for b in bounds) else None

    def ranges(self) -> dict[str, Bounds]:
        if not self.path.is_plain or self.operator not in ("==", ">", ">=", "<", "<="):
            return {}
        numbers: list[float] = []
        for value in self.values:
            if isinstance(value, Range) and value.low.kind is Kind.NUMBER:
                numbers += [value.low.value, value.high.value]
            elif isinstance(value, Literal) and value.kind is Kind.NUMBER:
                numbers.append(value.value)
            else:
                return {}
        if not numbers:
            return {}
        if self.operator == "==":
            return {self.path.attribute: (min(numbers), max(numbers))}
        # Strict bounds are widened to inclusive ones: the ranges are necessary, not sufficient.
        bound = numbers[0]
        return {self.path.attribute: (bound, None) if self.operator in (">", ">=") else (None, bound)}


@dataclass(frozen=True, slots=True)
class And:
    """Every child must match."""

    children: tuple[Node, ...]

    def matches(self, entity: Mapping[str, Any]) -> bool:
        return all(child.matches(entity) for child in self.children)

    def attributes(self) -> set[str]:
        return set().union(*(child.attributes() for child in self.children))

    def required(self) -> frozenset[str]:
        return frozenset().union(*(child.required() for child in self.children))

    def ranges(self) -> dict[str, Bounds]:
        merged: dict[str, Bounds] = {}
        for child in self.children:
            for iri, (low, high) in child.ranges().items():
                old_low, old_high = merged.get(iri, (None, None))
                merged[iri] = (_tighter(old_low, low, max), _tighter(old_high, high, min))
        return merged


@dataclass(frozen=True, slots=True)
class Or:
    """At least one child must match."""

    children: tuple[Node, ...]

    def matches(self, entity: Mapping[str, Any]) -> bool:
        return any(child.matches(entity) for child in self.children)

    def attributes(self) -> set[str]:
        return set().union(*(child.attributes() for child in self.children))

    def required(self) -> frozenset[str]:
        required = self.children[0].required()
        for child in self.children[1:]:
            required &= child.required()
        return required

    def ranges(self) -> dict[str, Bounds]:
        return {}  # a disjunction bounds nothing that every match shares; the AND chain above still does


def _tighter(old: float | None, new: float | None, pick: Any) -> float | None:
    if old is None:
        return new
    return old if new is None else pick(old, new)


def _equal(values: tuple[Literal | Range, ...], target: Any) -> bool:
    """Clause 4.9 equality: a value (or any list value) equals the target or is included in a target array."""
    items = target if isinstance(target, list) else (target,)
    for value in values:
        if isinstance(value, Range):
            if any(in_range(value, item) for item in items):
                return True
        elif any(equals(value, item) for item in items):
            return True
    return False


def _pattern(pattern: re.Pattern[str], target: Any, *, negate: bool) -> bool:
    """~= / !~=: only string targets can match; on an array, every string element is tested."""
    strings = [t for t in target if isinstance(t, str)] if isinstance(target, list) else [target]
    if not strings or not all(isinstance(s, str) for s in strings):
        return False
    found = any(pattern.search(s) is not None for s in strings)
    return not found if negate else found


def expand_vocab(values: tuple[Literal | Range, ...], expand: Any) -> tuple[Literal | Range, ...]:
    """Query values for a VocabProperty: each text value also in its expanded form (clause 4.9)."""
    expanded: list[Literal | Range] = []
    for value in values:
        expanded.append(value)
        if isinstance(value, Literal) and value.kind in TEXT_KINDS:
            iri = expand(value.value)
            if iri != value.value:
                expanded.append(Literal(value.kind, iri))
    return tuple(expanded)
