"""Shared pieces of the query parsers: the term-expansion callable and syntax errors."""

from __future__ import annotations

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
