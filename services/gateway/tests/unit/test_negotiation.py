"""Content negotiation: Content-Type 415, Accept 406 with q-values, the JSON-LD Link header in and out."""

from __future__ import annotations

from typing import Any

import httpx
import pytest
from cityos.broker.v1 import broker_pb2 as pb
from cityos_gateway.negotiation import ENTITY_ACCEPT, PLAIN_ACCEPT, link_context, negotiate
from cityos_runtime.problems import ProblemError

BASE = "/ngsi-ld/v1"
CTX = "https://example.org/ctx.jsonld"
REL = 'rel="http://www.w3.org/ns/json-ld#context"'


async def test_unsupported_content_type_is_415(client: httpx.AsyncClient, broker: Any) -> None:
    for content_type in ("text/plain", "application/xml", None):
        headers = {"content-type": content_type} if content_type else {}
        response = await client.post(f"{BASE}/entities", content=b"{}", headers=headers)
        assert response.status_code == 415, content_type
        assert response.json()["type"].endswith("/UnsupportedMediaType")
    assert not broker.calls


async def test_content_type_parameters_are_ignored(client: httpx.AsyncClient, broker: Any) -> None:
    response = await client.post(
        f"{BASE}/entities", content=b"{}", headers={"content-type": "application/ld+json; charset=utf-8"}
    )
    assert response.status_code == 201
    assert broker.last.request.ld.content_type == "application/ld+json"


async def test_unacceptable_accept_is_406(client: httpx.AsyncClient, broker: Any) -> None:
    response = await client.get(f"{BASE}/entities/urn:x:1", headers={"accept": "text/html"})
    assert response.status_code == 406
    assert response.json()["type"].endswith("/NotAcceptable")
    assert not broker.calls


def test_negotiate_with_q_values() -> None:
    assert negotiate("", ENTITY_ACCEPT) == "application/json"
    assert negotiate("*/*", ENTITY_ACCEPT) == "application/json"
    assert negotiate("application/ld+json, application/json", ENTITY_ACCEPT) == "application/ld+json"
    assert (
        negotiate("application/json;q=0.5, application/ld+json;q=0.9", ENTITY_ACCEPT) == "application/ld+json"
    )
    assert negotiate("application/*;q=0.2, application/geo+json", ENTITY_ACCEPT) == "application/geo+json"
    assert negotiate("*/*, application/json;q=0", PLAIN_ACCEPT) == "application/ld+json"
    with pytest.raises(ProblemError):
        negotiate("application/geo+json", PLAIN_ACCEPT)
    with pytest.raises(ProblemError):
        negotiate("application/json;q=0", PLAIN_ACCEPT)


def test_link_header_parsing() -> None:
    assert link_context("") == ""
    assert link_context(f'<{CTX}>; {REL}; type="application/ld+json"') == CTX
    assert link_context(f'<https://x/other>; rel="next", <{CTX}>; {REL}') == CTX
    for bad in (f"<{CTX}>; {REL}, <{CTX}>; {REL}", f'<{CTX}>; {REL}; type="text/plain"', f"{CTX}; {REL}"):
        with pytest.raises(ProblemError):
            link_context(bad)


async def test_link_header_sets_request_context(client: httpx.AsyncClient, broker: Any) -> None:
    headers = {"content-type": "application/json", "link": f"<{CTX}>; {REL}"}
    await client.post(f"{BASE}/entities/urn:x:1/attrs", content=b"{}", headers=headers)
    assert broker.last.request.ld.link_context == CTX
    assert broker.last.request.ld.content_type == "application/json"


async def test_link_header_with_json_ld_body_is_400(client: httpx.AsyncClient, broker: Any) -> None:
    headers = {"content-type": "application/ld+json", "link": f"<{CTX}>; {REL}"}
    response = await client.post(f"{BASE}/entities", content=b"{}", headers=headers)
    assert response.status_code == 400
    assert not broker.calls


async def test_response_link_only_for_plain_json(client: httpx.AsyncClient, broker: Any) -> None:
    broker.replies["RetrieveEntity"] = pb.Document(
        body=b"{}", content_type="application/json", link_context=CTX
    )
    response = await client.get(f"{BASE}/entities/urn:x:1")
    assert response.headers["link"] == f'<{CTX}>; {REL}; type="application/ld+json"'
    broker.replies["RetrieveEntity"] = pb.Document(
        body=b"{}", content_type="application/ld+json", link_context=CTX
    )
    response = await client.get(f"{BASE}/entities/urn:x:1", headers={"accept": "application/ld+json"})
    assert "link" not in response.headers
