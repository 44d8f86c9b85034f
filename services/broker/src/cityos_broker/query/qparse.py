"""Recursive-descent parser for the NGSI-LD Query Language (clause 4.9 ABNF), shared by `q` and `csf`.

Accepted beyond the strict ABNF, because clients send them: whitespace around operators, values and
parentheses; nested parentheses (clause 4.9 example 6 needs them); unquoted regular expressions up to
the next unparenthesised `;` or `|`; unquoted short names (`gender==Male`, for VocabProperty terms).
Quote a regular expression containing `;` or `|` outside parentheses, and a URI containing `,` or `..`
(otherwise read as a value list or a range). Not supported: linked-entity paths `attr{...}` (clause
4.5.23, answered with OperationNotSupported) and the `expandValues` / `jsonKeys` parameters.
"""

from __future__ import annotations

import re

import orjson

from cityos_broker.query.qpath import META_MEMBERS, AttributePath
from cityos_broker.query.qterms import And, Node, Or, Term, expand_vocab
from cityos_broker.query.qvalues import Kind, Literal, LiteralError, Range, parse_literal
from cityos_broker.query.syntax import Expand, TextScanner, compile_regex

MAX_LENGTH = 16_384  # characters in one expression
MAX_DEPTH = 32  # parenthesis nesting
MAX_PATTERN = 1_024  # characters in one regular expression

_NAME = re.compile(r"[^\W\d_][\w:]*")
_MEMBER = re.compile(r"[^\s.\[\]{}();|\"=!<>~,]+")
_OPERATORS = ("==", "!=", "!~=", "~=", ">=", "<=", ">", "<")  # longest first where prefixes overlap
_COMPARABLE = frozenset({Kind.NUMBER, Kind.STRING, Kind.DATETIME, Kind.DATE, Kind.TIME})


class QParser(TextScanner):
    """Parses one expression; `what` names the parameter (`q`, `csf`) in error details."""

    def __init__(self, text: str, expand: Expand, what: str = "q") -> None:
        super().__init__(text, what)
        self.expand = expand

    def parse(self) -> Node:
        """The whole expression as a tree; raises ProblemError 400 on any syntax error."""
        if len(self.text) > MAX_LENGTH:
            self._fail(f"the expression is longer than {MAX_LENGTH} characters", 0)
        if not self.text.strip():
            self._fail("the expression is empty", 0)
        node = self._disjunction(0)
        self._skip_space()
        if self.pos < len(self.text):
            char = self.text[self.pos]
            self._fail("unbalanced ')'" if char == ")" else f"unexpected {char!r}")
        return node

    # --- logical structure: AND binds tighter than OR, parentheses bind tightest ---

    def _disjunction(self, depth: int) -> Node:
        children = [self._conjunction(depth)]
        while self._accept("|"):
            children.append(self._conjunction(depth))
        return children[0] if len(children) == 1 else Or(tuple(children))

    def _conjunction(self, depth: int) -> Node:
        children = [self._primary(depth)]
        while self._accept(";"):
            children.append(self._primary(depth))
        return children[0] if len(children) == 1 else And(tuple(children))

    def _primary(self, depth: int) -> Node:
        self._skip_space()
        if self._accept("("):
            if depth >= MAX_DEPTH:
                self._fail(f"parentheses nested deeper than {MAX_DEPTH}", self.pos - 1)
            node = self._disjunction(depth + 1)
            if not self._accept(")"):
                self._fail("missing ')'")
            return node
        return self._term()

    # --- Query Terms ---

    def _term(self) -> Term:
        path = self._path()
        self._skip_space()
        operator = next((op for op in _OPERATORS if self.text.startswith(op, self.pos)), None)
        if operator is None:
            if self.pos < len(self.text) and self.text[self.pos] not in ";|)":
                self._fail(f"expected an operator (== != > >= < <= ~= !~=) after {path.text!r}")
            return Term(path)
        self.pos += len(operator)
        value_start = self._skip_space()
        raw = self._raw_value()
        if not raw:
            self._fail(f"missing value after {operator!r}", value_start)
        if operator in ("~=", "!~="):
            return Term(path, operator, pattern=self._regex(raw, value_start))
        values = self._values(raw, operator, value_start)
        vocab = expand_vocab(values, self.expand)
        return Term(path, operator, values, vocab)

    def _path(self) -> AttributePath:
        start = self.pos
        names = [self._name("an attribute name")]
        while self._accept(".", skip=False):
            names.append(self._name("an attribute name after '.'"))
        trailing: tuple[str, ...] | None = None
        if self._accept("[", skip=False):
            keys = [self._member()]
            while self._accept(".", skip=False):
                keys.append(self._member())
            if not self._accept("]", skip=False):
                self._fail("missing ']'")
            trailing = tuple(keys)
        if self.pos < len(self.text) and self.text[self.pos] == "{":
            self._fail("linked-entity paths (attr{...}) are not supported", kind="OperationNotSupported")
        text = self.text[start : self.pos]
        meta = names[-1] if len(names) > 1 and names[-1] in META_MEMBERS else None
        if meta is not None:
            names.pop()
            if trailing is not None:
                self._fail(f"{meta!r} has no members to address with [...]", start)
        for name in names[1:]:
            if name in META_MEMBERS:
                self._fail(f"{name!r} must be the last name of the path", start)
        return AttributePath(
            text=text,
            attribute=self.expand(names[0]),
            sub_attributes=tuple(self.expand(name) for name in names[1:]),
            meta=meta,
            trailing=trailing,
        )

    def _name(self, expected: str) -> str:
        found = _NAME.match(self.text, self.pos)
        if found is None:
            self._fail(f"expected {expected}")
        self.pos = found.end()
        return found.group()

    def _member(self) -> str:
        found = _MEMBER.match(self.text, self.pos)
        if found is None:
            self._fail("expected a member name inside [...]")
        self.pos = found.end()
        return found.group()

    # --- values ---

    def _raw_value(self) -> str:
        """The value text up to the next `;` / `|` / `)` outside quotes and the value's own parentheses."""
        depth = 0
        start = self.pos
        text = self.text
        while self.pos < len(text):
            char = text[self.pos]
            if char == '"':
                self._skip_string()
                continue
            if char == "(":
                depth += 1
            elif char == ")":
                if depth == 0:
                    break
                depth -= 1
            elif char in ";|" and depth == 0:
                break
            self.pos += 1
        return text[start : self.pos].rstrip()

    def _skip_string(self) -> None:
        start = self.pos
        self.pos += 1
        while self.pos < len(self.text):
            char = self.text[self.pos]
            if char == "\\":
                self.pos += 2
                continue
            self.pos += 1
            if char == '"':
                return
        self._fail("unterminated quoted string", start)

    def _regex(self, raw: str, at: int) -> re.Pattern[str]:
        source = raw
        if raw.startswith('"'):
            if _closing_quote(raw) != len(raw) - 1 or not _valid_json_string(raw):
                self._fail("invalid quoted string (quote the whole regular expression)", at)
            source = orjson.loads(raw)
        if len(source) > MAX_PATTERN:
            self._fail(f"the regular expression is longer than {MAX_PATTERN} characters", at)
        try:
            return compile_regex(source)
        except (re.error, RecursionError, OverflowError) as exc:
            self._fail(f"invalid regular expression {source!r}: {exc}", at)

    def _values(self, raw: str, operator: str, at: int) -> tuple[Literal | Range, ...]:
        items = _split_outside_quotes(raw, ",")
        equality = operator in ("==", "!=")
        if len(items) > 1 and not equality:
            self._fail(f"a value list is only allowed with == and !=, not {operator}", at)
        values: list[Literal | Range] = []
        offset = at
        for item in items:
            stripped = item.strip()
            item_at = offset + len(item) - len(item.lstrip())
            offset += len(item) + 1
            if not stripped:
                self._fail("empty value in the list", item_at)
            bounds = _split_outside_quotes(stripped, "..")
            if len(bounds) > 2:
                self._fail("a range has exactly one '..'", item_at)
            if len(bounds) == 2:
                if not equality or len(items) > 1:
                    self._fail("a range is only allowed alone with == and !=", item_at)
                values.append(self._range(bounds[0].strip(), bounds[1].strip(), item_at))
                continue
            literal = self._literal(stripped, item_at)
            if not equality and literal.kind not in _COMPARABLE:
                self._fail(
                    f"{operator} needs a number, quoted string, DateTime, Date or Time, not {stripped!r}",
                    item_at,
                )
            values.append(literal)
        return tuple(values)

    def _range(self, low_text: str, high_text: str, at: int) -> Range:
        low, high = self._literal(low_text, at), self._literal(high_text, at)
        if low.kind not in _COMPARABLE or low.kind is not high.kind:
            self._fail(
                "range bounds are two numbers, quoted strings, DateTimes, Dates or Times of one type", at
            )
        return Range(low, high)

    def _literal(self, text: str, at: int) -> Literal:
        try:
            return parse_literal(text)
        except LiteralError as exc:
            self._fail(str(exc), at)

    # --- scanning helpers ---


def _closing_quote(text: str) -> int:
    """Index of the quote closing the string that starts at text[0], or -1."""
    index = 1
    while index < len(text):
        if text[index] == "\\":
            index += 2
            continue
        if text[index] == '"':
            return index
        index += 1
    return -1


def _valid_json_string(text: str) -> bool:
    try:
        return isinstance(orjson.loads(text), str)
    except orjson.JSONDecodeError:
        return False


def _split_outside_quotes(text: str, separator: str) -> list[str]:
    """Split on a separator that is not inside a quoted string."""
    parts: list[str] = []
    start = index = 0
    while index < len(text):
        if text[index] == '"':
            end = _closing_quote(text[index:])
            index = len(text) if end < 0 else index + end + 1
            continue
        if text.startswith(separator, index):
            parts.append(text[start:index])
            index += len(separator)
            start = index
            continue
        index += 1
    parts.append(text[start:])
    return parts
