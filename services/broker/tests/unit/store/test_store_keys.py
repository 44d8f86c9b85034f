"""Tenant name validation."""

from __future__ import annotations

import pytest
from cityos_broker.store.contexts import context_id_of
from cityos_broker.store.keys import validate_tenant
from cityos_runtime.problems import ProblemError


@pytest.mark.parametrize("name", ["default", "sapporo", "a", "city-01", "pref_hokkaido", "9" * 63])
def test_valid_tenant_names(name: str) -> None:
    assert validate_tenant(name) == name


@pytest.mark.parametrize("name", ["", "Sapporo", "-x", "_x", "a b", "a{b}", "a*", "x" * 64, "ä"])
def test_invalid_tenant_names(name: str) -> None:
    with pytest.raises(ProblemError) as caught:
        validate_tenant(name)
    assert caught.value.kind == "BadRequestData"


def test_hosted_context_ids_from_urls() -> None:
    assert context_id_of("urn:ngsi-ld:Context:1") == "urn:ngsi-ld:Context:1"
    assert context_id_of("http://gw/ngsi-ld/v1/jsonldContexts/urn%3Ax%3A1") == "urn:x:1"
