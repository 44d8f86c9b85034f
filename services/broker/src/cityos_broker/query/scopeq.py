"""Scope queries (`scopeQ`, ETSI GS CIM 009 clause 4.19): `/a/b`, `/a/#`, `/a/+`, `/#`, `,` OR, `;` AND.

- `/a/b` matches the scope /a/b exactly; `/a/+/c` matches one level of any name in place of `+`;
- `/a/#` matches /a and every scope below it; `/#` matches any entity that has a scope;
- `,` and `|` are OR, `;` is AND (binding tighter; parentheses group); an entity matches an atom when
  any one of its scopes does.
Scope levels follow the ABNF: a Unicode letter, then letters, digits or `_`.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from dataclasses import dataclass

from cityos_runtime.problems import ProblemError

from cityos_broker.query.syntax import TextScanner

MAX_LENGTH = 8_192
MAX_DEPTH = 32

_LEVEL = re.compile(r"[^\W\d_]\w*")
_SCOPE = re.compile(r"(?:/[^\W\d_]\w*)+")


@dataclass(frozen=True, slots=True)
class _Atom:
    """One scope pattern: its levels (`+` = any one level) and whether `/#` ends it."""

    levels: tuple[str, ...]
    descendants: bool

    def matches_one(self, scope: str) -> bool:
        parts = scope.split("/")[1:]
        if len(parts) < len(self.levels) or (len(parts) > len(self.levels) and not self.descendants):
            return False
        return all(want in ("+", have) for want, have in zip(self.levels, parts, strict=False))


@dataclass(frozen=True, slots=True)
class _Group:
    """AND (`all_of`) or OR of child patterns."""

    children: tuple[_Atom | _Group, ...]
    all_of: bool


class ScopeQuery:
    """A parsed scope query; build it with `parse_scope_query`."""

    __slots__ = ("_root", "text")

    def __init__(self, text: str, root: _Atom | _Group) -> None:
        self.text = text
        self._root = root

    def matches(self, scopes: Iterable[str]) -> bool:
        """True when an entity with these scopes is selected."""
        have = [scope for scope in scopes if isinstance(scope, str)]
        return bool(have) and _matches(self._root, have)

    def __repr__(self) -> str:
        return f"ScopeQuery({self.text!r})"


def _matches(node: _Atom | _Group, scopes: list[str]) -> bool:
    if isinstance(node, _Atom):
        return any(node.matches_one(scope) for scope in scopes)
    check = all if node.all_of else any
    return check(_matches(child, scopes) for child in node.children)


def parse_scope_query(text: str) -> ScopeQuery:
    """Parse a `scopeQ`; raises ProblemError 400 BadRequestData naming the problem and its position."""
    return ScopeQuery(text, _ScopeParser(text).parse())


def validate_scope(scope: str) -> None:
    """Check one entity scope value (`/level/...`); raises ProblemError 400 BadRequestData if invalid."""
    if not isinstance(scope, str) or not _SCOPE.fullmatch(scope):
        raise ProblemError(
            "BadRequestData",
            f"invalid scope {scope!r}: expected /level(/level)*, each a letter then letters, digits or '_'",
        )


class _ScopeParser(TextScanner):
    def __init__(self, text: str) -> None:
        super().__init__(text, "scopeQ")

    def parse(self) -> _Atom | _Group:
        if len(self.text) > MAX_LENGTH:
            self._fail(f"the expression is longer than {MAX_LENGTH} characters", 0)
        if not self.text.strip():
            self._fail("the scope query is empty", 0)
        node = self._disjunction(0)
        self._skip_space()
        if self.pos < len(self.text):
            self._fail(
                "unbalanced ')'" if self.text[self.pos] == ")" else f"unexpected {self.text[self.pos]!r}"
            )
        return node

    def _disjunction(self, depth: int) -> _Atom | _Group:
        children = [self._conjunction(depth)]
        while self._accept("|") or self._accept(","):
            children.append(self._conjunction(depth))
        return children[0] if len(children) == 1 else _Group(tuple(children), all_of=False)

    def _conjunction(self, depth: int) -> _Atom | _Group:
        children = [self._primary(depth)]
        while self._accept(";"):
            children.append(self._primary(depth))
        return children[0] if len(children) == 1 else _Group(tuple(children), all_of=True)

    def _primary(self, depth: int) -> _Atom | _Group:
        if self._accept("("):
            if depth >= MAX_DEPTH:
                self._fail(f"parentheses nested deeper than {MAX_DEPTH}", self.pos - 1)
            node = self._disjunction(depth + 1)
            if not self._accept(")"):
                self._fail("missing ')'")
            return node
        return self._atom()

    def _atom(self) -> _Atom:
        self._skip_space()
        levels: list[str] = []
        while self.text.startswith("/", self.pos):
            self.pos += 1
            if self.text.startswith("#", self.pos):
                self.pos += 1
                return _Atom(tuple(levels), descendants=True)
            if self.text.startswith("+", self.pos):
                self.pos += 1
                levels.append("+")
                continue
            found = _LEVEL.match(self.text, self.pos)
            if found is None:
                self._fail("expected a scope level (a letter then letters, digits or '_'), '+' or '#'")
            levels.append(found.group())
            self.pos = found.end()
        if not levels:
            self._fail("expected a scope starting with '/'")
        return _Atom(tuple(levels), descendants=False)
