"""@context: user contexts by Link header, the core context, /jsonldContexts (GS CIM 009, 5.13, 6.3.5)."""

from __future__ import annotations

import json
import threading
import time
import uuid
from collections.abc import Callable, Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import urljoin

import httpx
import pytest

ERRORS = "https://uri.etsi.org/ngsi-ld/errors/"
JSONLD_CONTEXT_REL = 'rel="http://www.w3.org/ns/json-ld#context"; type="application/ld+json"'
HYDRO = "https://example.org/hydrology/"
HYDRO_CONTEXT = {"@context": {"Gauge": HYDRO + "Gauge", "level": HYDRO + "waterLevel"}}
UNREACHABLE_CONTEXT = "http://127.0.0.1:9/ctx.jsonld"  # the discard port: nothing listens there


def link(url: str) -> dict[str, str]:
    """A Link header naming a JSON-LD @context."""
    return {"Link": f"<{url}>; {JSONLD_CONTEXT_REL}"}


@pytest.fixture(scope="module")
def context_server() -> Iterator[str]:
    """A local HTTP server serving user @context documents; yields its base URL."""
    documents = {"/hydrology.jsonld": json.dumps(HYDRO_CONTEXT).encode()}

    class Handler(BaseHTTPRequestHandler):
        def do_GET(self) -> None:
            body = documents.get(self.path)
            self.send_response(200 if body else 404)
            self.send_header("Content-Type", "application/ld+json")
            self.end_headers()
            self.wfile.write(body or b"{}")

        def log_message(self, *args: Any) -> None:
            """Keep the test output quiet."""

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}"
    finally:
        server.shutdown()
        server.server_close()
        thread.join(timeout=5)


def gauge_in_user_terms(entity_id: str) -> dict[str, Any]:
    return {"id": entity_id, "type": "Gauge", "level": {"type": "Property", "value": 2.1}}


def test_user_context_by_link_header_decides_term_expansion_and_compaction(
    tenant_client: httpx.Client, context_server: str
) -> None:
    user_context = link(f"{context_server}/hydrology.jsonld")
    entity_id = f"urn:ngsi-ld:Gauge:{uuid.uuid4().hex[:10]}"
    response = tenant_client.post("/entities", json=gauge_in_user_terms(entity_id), headers=user_context)
    assert response.status_code == 201, response.text

    compact = tenant_client.get(f"/entities/{entity_id}", headers=user_context).json()
    assert compact["type"] == "Gauge"
    assert compact["level"]["value"] == 2.1

    expanded = tenant_client.get(f"/entities/{entity_id}").json()
    assert expanded["type"] == HYDRO + "Gauge"
    assert expanded[HYDRO + "waterLevel"]["value"] == 2.1
    assert "level" not in expanded


def test_query_terms_are_expanded_with_the_callers_context(
    tenant_client: httpx.Client, context_server: str
) -> None:
    user_context = link(f"{context_server}/hydrology.jsonld")
    entity_id = f"urn:ngsi-ld:Gauge:{uuid.uuid4().hex[:10]}"
    tenant_client.post(
        "/entities", json=gauge_in_user_terms(entity_id), headers=user_context
    ).raise_for_status()

    with_context = tenant_client.get(
        "/entities", params={"type": "Gauge", "q": "level>2"}, headers=user_context
    )
    assert [entity["id"] for entity in with_context.json()] == [entity_id]
    without_context = tenant_client.get("/entities", params={"type": "Gauge"})
    assert without_context.status_code == 200, without_context.text
    assert without_context.json() == []  # "Gauge" now means the default-context IRI
    by_full_iri = tenant_client.get("/entities", params={"type": HYDRO + "Gauge"})
    assert [entity["id"] for entity in by_full_iri.json()] == [entity_id]


@pytest.mark.parametrize("version", ["1.3", "1.6", "1.8", "1.9"])
def test_core_context_url_of_any_version_resolves_without_network(
    tenant_client: httpx.Client, version: str
) -> None:
    core = f"https://uri.etsi.org/ngsi-ld/v1/ngsi-ld-core-context-v{version}.jsonld"
    entity_id = f"urn:ngsi-ld:Gauge:{uuid.uuid4().hex[:10]}"
    started = time.monotonic()
    response = tenant_client.post("/entities", json=gauge_in_user_terms(entity_id), headers=link(core))
    assert response.status_code == 201, response.text
    assert time.monotonic() - started < 5
    body = tenant_client.get(f"/entities/{entity_id}", headers=link(core)).json()
    assert body["type"] == "Gauge"
    assert body["level"]["value"] == 2.1


def test_unreachable_context_answers_503_ld_context_not_available_quickly(
    tenant_client: httpx.Client, problem: Callable[..., dict[str, Any]]
) -> None:
    entity_id = f"urn:ngsi-ld:Gauge:{uuid.uuid4().hex[:10]}"
    started = time.monotonic()
    response = tenant_client.post(
        "/entities", json=gauge_in_user_terms(entity_id), headers=link(UNREACHABLE_CONTEXT), timeout=30.0
    )
    elapsed = time.monotonic() - started
    problem(response, 503, "LdContextNotAvailable")
    assert elapsed < 5, f"took {elapsed:.1f} s"


def test_unreachable_context_in_an_ld_json_body_answers_503(
    tenant_client: httpx.Client, problem: Callable[..., dict[str, Any]]
) -> None:
    entity = gauge_in_user_terms(f"urn:ngsi-ld:Gauge:{uuid.uuid4().hex[:10]}") | {
        "@context": UNREACHABLE_CONTEXT
    }
    response = tenant_client.post(
        "/entities", json=entity, headers={"Content-Type": "application/ld+json"}, timeout=30.0
    )
    problem(response, 503, "LdContextNotAvailable")


def test_context_can_be_added_served_listed_and_deleted(
    tenant_client: httpx.Client, problem: Callable[..., dict[str, Any]]
) -> None:
    document = {
        "@context": {
            "Plough": "https://example.org/winter/Plough",
            "speed": "https://example.org/winter/speed",
        }
    }
    added = tenant_client.post("/jsonldContexts", json=document)
    assert added.status_code == 201, added.text
    location = added.headers["Location"]
    context_id = location.rstrip("/").rsplit("/", 1)[-1]
    assert "/ngsi-ld/v1/jsonldContexts/" in location

    served = tenant_client.get(f"/jsonldContexts/{context_id}")
    assert served.status_code == 200, served.text
    assert served.json() == document

    listed = tenant_client.get("/jsonldContexts")
    assert listed.status_code == 200, listed.text
    assert any(url.endswith(context_id) for url in listed.json())

    detailed = tenant_client.get("/jsonldContexts", params={"details": "true"})
    assert detailed.status_code == 200, detailed.text
    mine = [item for item in detailed.json() if item["URL"].endswith(context_id)]
    assert [(item["localId"], item["kind"]) for item in mine] == [(context_id, "Hosted")]

    assert tenant_client.delete(f"/jsonldContexts/{context_id}").status_code == 204
    problem(tenant_client.get(f"/jsonldContexts/{context_id}"), 404, "ResourceNotFound")


def test_hosted_context_is_usable_by_its_url(tenant_client: httpx.Client) -> None:
    added = tenant_client.post("/jsonldContexts", json=HYDRO_CONTEXT)
    assert added.status_code == 201, added.text
    url = urljoin(str(tenant_client.base_url), added.headers["Location"])
    entity_id = f"urn:ngsi-ld:Gauge:{uuid.uuid4().hex[:10]}"
    response = tenant_client.post("/entities", json=gauge_in_user_terms(entity_id), headers=link(url))
    assert response.status_code == 201, response.text
    assert tenant_client.get(f"/entities/{entity_id}").json()["type"] == HYDRO + "Gauge"


def test_adding_a_document_without_context_answers_400(tenant_client: httpx.Client) -> None:
    response = tenant_client.post("/jsonldContexts", json={"Gauge": HYDRO + "Gauge"})
    assert response.status_code == 400, response.text
    assert response.json()["type"] in {ERRORS + "BadRequestData", ERRORS + "InvalidRequest"}


def test_context_url_answering_404_answers_503_ld_context_not_available(
    tenant_client: httpx.Client, context_server: str, problem: Callable[..., dict[str, Any]]
) -> None:
    missing = link(f"{context_server}/no-such-context.jsonld")
    response = tenant_client.post(
        "/entities", json=gauge_in_user_terms(f"urn:ngsi-ld:Gauge:{uuid.uuid4().hex[:10]}"), headers=missing
    )
    problem(response, 503, "LdContextNotAvailable")


def test_discovery_compacts_names_with_the_callers_context(
    tenant_client: httpx.Client, context_server: str
) -> None:
    user_context = link(f"{context_server}/hydrology.jsonld")
    entity_id = f"urn:ngsi-ld:Gauge:{uuid.uuid4().hex[:10]}"
    tenant_client.post(
        "/entities", json=gauge_in_user_terms(entity_id), headers=user_context
    ).raise_for_status()
    assert tenant_client.get("/types", headers=user_context).json()["typeList"] == ["Gauge"]
    assert tenant_client.get("/types").json()["typeList"] == [HYDRO + "Gauge"]
    assert tenant_client.get("/attributes", headers=user_context).json()["attributeList"] == ["level"]
    info = tenant_client.get("/types/Gauge", headers=user_context)
    assert info.status_code == 200, info.text
    assert info.json()["entityCount"] == 1


def test_response_names_the_context_it_was_compacted_with(
    tenant_client: httpx.Client, context_server: str
) -> None:
    context_url = f"{context_server}/hydrology.jsonld"
    entity_id = f"urn:ngsi-ld:Gauge:{uuid.uuid4().hex[:10]}"
    tenant_client.post(
        "/entities", json=gauge_in_user_terms(entity_id), headers=link(context_url)
    ).raise_for_status()

    as_json = tenant_client.get(f"/entities/{entity_id}", headers=link(context_url))
    assert as_json.status_code == 200, as_json.text
    assert as_json.headers["Link"].startswith(f"<{context_url}>")

    as_ld = tenant_client.get(
        f"/entities/{entity_id}", headers=link(context_url) | {"Accept": "application/ld+json"}
    )
    context = as_ld.json()["@context"]
    assert context_url in (context if isinstance(context, list) else [context])


def test_vocab_values_are_expanded_and_compacted_with_the_context(tenant_client: httpx.Client) -> None:
    document = {"@context": {"Gauge": HYDRO + "Gauge", "river": HYDRO + "river", "kind": HYDRO + "kind"}}
    added = tenant_client.post("/jsonldContexts", json=document)
    assert added.status_code == 201, added.text
    context = link(urljoin(str(tenant_client.base_url), added.headers["Location"]))
    entity_id = f"urn:ngsi-ld:Gauge:{uuid.uuid4().hex[:10]}"
    entity = {"id": entity_id, "type": "Gauge", "kind": {"type": "VocabProperty", "vocab": "river"}}
    tenant_client.post("/entities", json=entity, headers=context).raise_for_status()

    assert tenant_client.get(f"/entities/{entity_id}", headers=context).json()["kind"]["vocab"] == "river"
    assert tenant_client.get(f"/entities/{entity_id}").json()[HYDRO + "kind"]["vocab"] == HYDRO + "river"
    found = tenant_client.get("/entities", params={"type": "Gauge", "q": 'kind=="river"'}, headers=context)
    assert [item["id"] for item in found.json()] == [entity_id]


def test_hosted_context_is_served_to_any_json_ld_processor(
    tenant_client: httpx.Client, client: httpx.Client
) -> None:
    # A JSON-LD processor dereferencing the URL sends no NGSILD-Tenant header; it must still get the document.
    added = tenant_client.post("/jsonldContexts", json=HYDRO_CONTEXT)
    assert added.status_code == 201, added.text
    served = client.get(urljoin(str(client.base_url), added.headers["Location"]))
    assert served.status_code == 200, served.text
    assert served.json() == HYDRO_CONTEXT
