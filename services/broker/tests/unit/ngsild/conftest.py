"""Shared fixtures for the NGSI-LD model tests."""

from __future__ import annotations

import pytest
from cityos_broker.ngsild.contexts import TermMap

NOW = "2026-11-22T03:00:00.000000Z"
LATER = "2026-11-22T04:00:00.000000Z"
DEFAULT = "https://uri.etsi.org/ngsi-ld/default-context/"
USER_CONTEXT = {
    "fiware": "https://uri.fiware.org/ns/data-models#",
    "WaterLevelGauge": "https://smartdatamodels.org/dataModel.Environment/WaterLevelGauge",
    "waterLevel": "https://smartdatamodels.org/dataModel.Environment/waterLevel",
    "Building": "fiware:Building",
    "category": {"@id": "fiware:category", "@type": "@vocab"},
    "residential": "fiware:residential",
}


@pytest.fixture
def core() -> TermMap:
    return TermMap.compile([])


@pytest.fixture
def user() -> TermMap:
    return TermMap.compile([USER_CONTEXT], "https://example.org/ctx.jsonld")
