"""Entity type selection (ETSI GS CIM 009 clause 4.17): `,` and `|` are OR, `;` is AND, parentheses group.

Accepted beyond the strict ABNF: `;` outside parentheses (`A;B`, AND binding tighter than OR, as in `q`),
nested parentheses, whitespace around tokens. Type names are short names (clause 4.6.2) or URIs; as the
spec notes, a URI containing `,` `;` `(` `)` or `|` cannot be written in a type expression.
"""

from __future__ import annotations

import re
from collections.abc import Iterable

from cityos_broker.query.syntax import Expand, TextScanner, syntax_error

MAX_LENGTH = 8_192
MAX_CONJUNCTIONS = 256  # size of the disjunctive normal form
MAX_DEPTH = 32

_TYPE = re.compile(r"[^\s,;|()\"<>{}\[\]\\^`]+")
_SHORT_NAME = re.compile(r"[^\W\d_][\w]*(?::[^\W\d_][\w]*)?")
_URI = re.compile(r"[A-Za-z][A-Za-z0-9+.\-]*:\S+")

Dnf = list[frozenset[str]]


class TypeExpression:
    """A parsed type expression over expanded type IRIs; build it with `parse_type_expression`."""

    __slots__ = ("_dnf", "_types", "text")

    def __init__(self, text: str, dnf: Dnf) -> None:
        self.text = text
        self._dnf = _minimal(dnf)
        self._types = frozenset().union(*self._dnf)

    def matches(self, types: Iterable[str]) -> bool:
        """True when an entity with these (expanded) types is selected."""
        have = types if isinstance(types, set | frozenset) else set(types)
        return any(conjunction <= have for conjunction in self._dnf)

    def dnf(self) -> list[frozenset[str]]:
        """Disjunctive normal form: the entity must have every type of at least one of these sets."""
        return list(self._dnf)

    def type_iris(self) -> frozenset[str]:
        """Every type IRI the expression names."""
        return self._types

    def __repr__(self) -> str:
        return f"TypeExpression({self.text!r})"


def parse_type_expression(text: str, expand: Expand) -> TypeExpression:
    """Parse a type expression, expanding each term; raises ProblemError 400 on bad syntax."""
    return TypeExpression(text, _TypeParser(text, expand).parse())


class _TypeParser(TextScanner):
    def __init__(self, text: str, expand: Expand) -> None:
        super().__init__(text, "type")
        self.expand = expand

    def parse(self) -> Dnf:
        if len(self.text) > MAX_LENGTH:
            self._fail(f"the expression is longer than {MAX_LENGTH} characters", 0)
        if not self.text.strip():
            self._fail("the type expression is empty", 0)
        dnf = self._disjunction(0)
        self._skip_space()
        if self.pos < len(self.text):
            self._fail(
                "unbalanced ')'" if self.text[self.pos] == ")" else f"unexpected {self.text[self.pos]!r}"
            )
        return dnf

    def _disjunction(self, depth: int) -> Dnf:
        dnf = self._conjunction(depth)
        while self._accept("|") or self._accept(","):
            dnf = dnf + self._conjunction(depth)
            self._check_size(len(dnf))
        return dnf

    def _conjunction(self, depth: int) -> Dnf:
        dnf = self._primary(depth)
        while self._accept(";"):
            right = self._primary(depth)
            self._check_size(len(dnf) * len(right))
            dnf = [left | other for left in dnf for other in right]  # distribute AND over OR
        return dnf

    def _primary(self, depth: int) -> Dnf:
        if self._accept("("):
            if depth >= MAX_DEPTH:
                self._fail(f"parentheses nested deeper than {MAX_DEPTH}", self.pos - 1)
            dnf = self._disjunction(depth + 1)
            if not self._accept(")"):
                self._fail("missing ')'")
            return dnf
        self._skip_space()
        found = _TYPE.match(self.text, self.pos)
        if found is None:
            self._fail("expected an entity type")
        name = found.group()
        if not (_SHORT_NAME.fullmatch(name) or _URI.fullmatch(name)):
            self._fail(f"{name!r} is neither a valid type name nor a URI")
        self.pos = found.end()
        return [frozenset({self.expand(name)})]

    def _check_size(self, size: int) -> None:
        if size > MAX_CONJUNCTIONS:
            syntax_error(
                "type",
                self.text,
                self.pos,
                f"more than {MAX_CONJUNCTIONS} alternatives",
                kind="TooComplexQuery",
            )


def _minimal(dnf: Dnf) -> Dnf:
    """Drop duplicate conjunctions and those implied by a smaller one (A | A;B is just A), keeping order."""
    kept: Dnf = []
    for conjunction in sorted(dict.fromkeys(dnf), key=len):
        if not any(smaller <= conjunction for smaller in kept):
            kept.append(conjunction)
    return kept
