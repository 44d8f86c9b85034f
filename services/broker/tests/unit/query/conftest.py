"""Fixtures for the query-language unit tests: a term expander like the core @context's."""

from __future__ import annotations

from collections.abc import Callable

import pytest

CORE = "https://uri.etsi.org/ngsi-ld/"
DEFAULT = "https://uri.etsi.org/ngsi-ld/default-context/"


def expand_term(term: str) -> str:
    """Core terms to the core namespace, IRIs unchanged, other terms to the default context."""
    if ":" in term:
        return term
    if term in ("location", "observationSpace", "operationSpace"):
        return CORE + term
    return DEFAULT + term


@pytest.fixture
def expand() -> Callable[[str], str]:
    return expand_term
