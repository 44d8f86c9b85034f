"""Shared fixtures of the subscription unit tests (no sockets)."""

from __future__ import annotations

import pytest
from cityos_broker.ngsild.contexts import TermMap

USER_CONTEXT = {
    "speed": "https://example.org/vocab#speed",
    "Car": "https://example.org/types#Car",
}


@pytest.fixture
def core() -> TermMap:
    return TermMap.compile([])


@pytest.fixture
def user() -> TermMap:
    return TermMap.compile([USER_CONTEXT], "https://example.org/ctx.jsonld")
