"""Shared pieces of the query parsers: the term-expansion callable, the text scanner and syntax errors."""

from __future__ import annotations

import re
import warnings
from collections.abc import Callable
from typing import NoReturn

from cityos_runtime.problems import ProblemError

# Expands a JSON-LD term (e.g. "temperature") to its IRI with the caller's @context; IRIs pass through.
Expand = Callable[[str], str]

_SHOWN = 200  # characters of the offending text quoted in an error detail


def syntax_error(
    what: str, text: str, position: int, problem: str, *, kind: str = "BadRequestData"
) -> NoReturn:
    """Raise a 400 ProblemError naming the parameter, the problem and its (0-based) position."""
    shown = text if len(text) <= _SHOWN else text[:_SHOWN] + "..."
    raise ProblemError(kind, f"invalid {what} at position {position}: {problem} (in {shown!r})")


def compile_regex(pattern: str) -> re.Pattern[str]:
    """Compile a caller's regular expression; raises re.error (or RecursionError/OverflowError) if invalid.

    Python warns (FutureWarning) about constructs such as `[[` whose meaning may change in later versions;
    they are valid today, and a warning must not escape into the request path.
    """
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", FutureWarning)
        return re.compile(pattern)


class TextScanner:
    """The cursor the recursive-descent parsers (q, type expressions, scopeQ) share."""

    def __init__(self, text: str, what: str) -> None:
        self.text = text
        self.what = what  # the parameter named in error details, e.g. "q"
        self.pos = 0

    def _skip_space(self) -> int:
        while self.pos < len(self.text) and self.text[self.pos].isspace():
            self.pos += 1
        return self.pos

    def _accept(self, token: str, *, skip: bool = True) -> bool:
        if skip:
            self._skip_space()
        if self.text.startswith(token, self.pos):
            self.pos += len(token)
            return True
        return False

    def _fail(self, problem: str, position: int | None = None, *, kind: str = "BadRequestData") -> NoReturn:
        syntax_error(self.what, self.text, self.pos if position is None else position, problem, kind=kind)
