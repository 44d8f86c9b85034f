"""Shared pieces of the query parsers: the term-expansion callable and syntax errors."""

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
