"""Smoke: the bootstrap admin gets a token through the full browser flow."""

from __future__ import annotations

from typing import Any

import pytest
from cityos_identity.testing import admin_token

pytestmark = pytest.mark.integration
ISSUER = "http://127.0.0.1:8080"


async def test_admin_token(identity: tuple[Any, Any], unique_tenant: str) -> None:
    _, stub = identity
    token = await admin_token(stub, unique_tenant, ISSUER)
    assert token.count(".") == 2
