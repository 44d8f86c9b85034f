"""Bad requests answer ProblemDetails with the NGSI-LD error type, never a 500 (GS CIM 009, 5.5.2, 6.3)."""

from __future__ import annotations

import uuid
from collections.abc import Callable
from typing import Any

import httpx
import pytest

ERRORS = "https://uri.etsi.org/ngsi-ld/errors/"
CORE_CONTEXT = "https://uri.etsi.org/ngsi-ld/v1/ngsi-ld-core-context-v1.8.jsonld"
# GATEWAY_MAX_BODY_BYTES defaults to 8 MiB.
OVERSIZE_BYTES = 9 * 1024 * 1024


@pytest.fixture
def tenant_client(tenant_client: httpx.Client) -> httpx.Client:
    """The tenant's client, holding one entity so the tenant exists."""
    tenant_client.post("/entities", json=entity()).raise_for_status()
    return tenant_client


def entity(entity_id: str | None = None) -> dict[str, object]:
    return {
        "id": entity_id or f"urn:ngsi-ld:Sensor:{uuid.uuid4().hex[:10]}",
        "type": "Sensor",
        "temperature": {"type": "Property", "value": -3.5},
    }


@pytest.fixture
def problem(problem: Callable[..., dict[str, Any]]) -> Callable[..., dict[str, Any]]:
    """The ProblemDetails check, here also requiring a JSON media type and a title (RFC 9457)."""

    def check(response: httpx.Response, status: int, *kinds: str) -> dict[str, Any]:
        body = problem(response, status, *kinds, titled=True)
        assert "json" in response.headers.get("Content-Type", ""), response.headers
        return body

    return check


def test_malformed_json_answers_400_invalid_request(
    tenant_client: httpx.Client, problem: Callable[..., dict[str, Any]]
) -> None:
    response = tenant_client.post(
        "/entities",
        content=b'{"id": "urn:ngsi-ld:Sensor:1", "type": ',
        headers={"Content-Type": "application/json"},
    )
    problem(response, 400, "InvalidRequest")


def test_body_that_is_not_an_object_answers_400(
    tenant_client: httpx.Client, problem: Callable[..., dict[str, Any]]
) -> None:
    problem(
        tenant_client.post("/entities", json=["not", "an", "entity"]), 400, "InvalidRequest", "BadRequestData"
    )


def test_entity_id_that_is_not_a_uri_answers_400_bad_request_data(
    tenant_client: httpx.Client, problem: Callable[..., dict[str, Any]]
) -> None:
    problem(tenant_client.post("/entities", json=entity("not a uri")), 400, "BadRequestData")


def test_entity_without_type_answers_400_bad_request_data(
    tenant_client: httpx.Client, problem: Callable[..., dict[str, Any]]
) -> None:
    body = entity()
    del body["type"]
    problem(tenant_client.post("/entities", json=body), 400, "BadRequestData")


def test_attribute_without_value_answers_400_bad_request_data(
    tenant_client: httpx.Client, problem: Callable[..., dict[str, Any]]
) -> None:
    body = entity() | {"humidity": {"type": "Property"}}
    problem(tenant_client.post("/entities", json=body), 400, "BadRequestData")


_POLYGON_NOT_CLOSED = {"type": "Polygon", "coordinates": [[[141, 43], [142, 43], [142, 44]]]}


@pytest.mark.parametrize(
    "attribute",
    [
        {"type": "GeoProperty", "value": _POLYGON_NOT_CLOSED},
        {"type": "GeoProperty", "value": {"type": "Point", "coordinates": [200, 43]}},
        {"type": "GeoProperty", "value": {"type": "Pointy", "coordinates": [141, 43]}},
        {"type": "Property", "value": 1, "observedAt": "yesterday"},
        {"type": "Property", "value": 1, "datasetId": "not a uri"},
        {"type": "Relationship", "object": "not a uri"},
        {"type": "Propertyy", "value": 1},
    ],
    ids=[
        "open-polygon",
        "longitude-out-of-range",
        "unknown-geometry",
        "observed-at-not-a-datetime",
        "dataset-id-not-a-uri",
        "object-not-a-uri",
        "unknown-attribute-type",
    ],
)
def test_invalid_attribute_answers_400_bad_request_data(
    tenant_client: httpx.Client, attribute: dict[str, object], problem: Callable[..., dict[str, Any]]
) -> None:
    problem(tenant_client.post("/entities", json=entity() | {"site": attribute}), 400, "BadRequestData")


def test_path_id_that_is_not_a_uri_answers_400_bad_request_data(
    tenant_client: httpx.Client, problem: Callable[..., dict[str, Any]]
) -> None:
    problem(tenant_client.get("/entities/not-a-uri"), 400, "BadRequestData")


def test_body_over_the_size_limit_answers_413(
    tenant_client: httpx.Client, problem: Callable[..., dict[str, Any]]
) -> None:
    body = entity() | {"blob": {"type": "Property", "value": "x" * OVERSIZE_BYTES}}
    problem(tenant_client.post("/entities", json=body, timeout=60.0), 413, "PayloadTooLarge")


@pytest.mark.parametrize(
    "q", ["temperature>>3", "temperature==", '(temperature==1"', "temperature==1;;", "=3"]
)
def test_bad_q_syntax_answers_400(
    tenant_client: httpx.Client, q: str, problem: Callable[..., dict[str, Any]]
) -> None:
    problem(
        tenant_client.get("/entities", params={"type": "Sensor", "q": q}),
        400,
        "BadRequestData",
        "InvalidRequest",
    )


@pytest.mark.parametrize(
    "params",
    [
        {"georel": "nearby", "geometry": "Point", "coordinates": "[141.35,43.06]"},
        {"georel": "near;maxDistance==abc", "geometry": "Point", "coordinates": "[141.35,43.06]"},
        {"georel": "within", "geometry": "Circle", "coordinates": "[141.35,43.06]"},
        {"georel": "within", "geometry": "Polygon", "coordinates": "[141.35,43.06]"},
        {"georel": "near;maxDistance==100", "geometry": "Point"},
        {"georel": "near;maxDistance==100", "geometry": "Point", "coordinates": "[200,100]"},
    ],
    ids=[
        "unknown-georel",
        "bad-distance",
        "unknown-geometry",
        "coordinates-mismatch",
        "no-coordinates",
        "out-of-range",
    ],
)
def test_bad_geo_query_answers_400(
    tenant_client: httpx.Client, params: dict[str, str], problem: Callable[..., dict[str, Any]]
) -> None:
    response = tenant_client.get("/entities", params={"type": "Sensor", **params})
    problem(response, 400, "BadRequestData", "InvalidRequest")


def test_bad_scope_query_answers_400(
    tenant_client: httpx.Client, problem: Callable[..., dict[str, Any]]
) -> None:
    response = tenant_client.get("/entities", params={"type": "Sensor", "scopeQ": "no-leading-slash"})
    problem(response, 400, "BadRequestData", "InvalidRequest")


def test_bad_type_expression_answers_400(
    tenant_client: httpx.Client, problem: Callable[..., dict[str, Any]]
) -> None:
    response = tenant_client.get("/entities", params={"type": "(Sensor|"})
    problem(response, 400, "BadRequestData", "InvalidRequest")


@pytest.mark.parametrize(
    "params", [{"limit": "-1"}, {"offset": "-1"}, {"limit": "ten"}], ids=["limit", "offset", "nan"]
)
def test_bad_paging_parameter_answers_400(
    tenant_client: httpx.Client, params: dict[str, str], problem: Callable[..., dict[str, Any]]
) -> None:
    response = tenant_client.get("/entities", params={"type": "Sensor", **params})
    problem(response, 400, "BadRequestData", "InvalidRequest")


def test_limit_above_the_maximum_answers_403_too_many_results(
    tenant_client: httpx.Client, problem: Callable[..., dict[str, Any]]
) -> None:
    response = tenant_client.get("/entities", params={"type": "Sensor", "limit": "1000000"})
    problem(response, 403, "TooManyResults")


def test_invalid_id_pattern_answers_400(
    tenant_client: httpx.Client, problem: Callable[..., dict[str, Any]]
) -> None:
    problem(
        tenant_client.get("/entities", params={"idPattern": "(urn"}), 400, "BadRequestData", "InvalidRequest"
    )


def test_unsupported_content_type_answers_415(
    tenant_client: httpx.Client, problem: Callable[..., dict[str, Any]]
) -> None:
    response = tenant_client.post(
        "/entities", content=b"id=urn:ngsi-ld:Sensor:1", headers={"Content-Type": "text/plain"}
    )
    problem(response, 415, "UnsupportedMediaType")


def test_unacceptable_accept_answers_406(
    tenant_client: httpx.Client, problem: Callable[..., dict[str, Any]]
) -> None:
    response = tenant_client.get("/entities", params={"type": "Sensor"}, headers={"Accept": "text/html"})
    problem(response, 406, "NotAcceptable")


def test_context_inside_an_application_json_body_answers_400(
    tenant_client: httpx.Client, problem: Callable[..., dict[str, Any]]
) -> None:
    body = entity() | {"@context": CORE_CONTEXT}
    problem(tenant_client.post("/entities", json=body), 400, "BadRequestData")


def test_ld_json_body_without_context_answers_400(
    tenant_client: httpx.Client, problem: Callable[..., dict[str, Any]]
) -> None:
    response = tenant_client.post("/entities", json=entity(), headers={"Content-Type": "application/ld+json"})
    problem(response, 400, "BadRequestData")


_DEEP = "[" * 5000 + "]" * 5000
_JSON = {"Content-Type": "application/json"}
_HOSTILE_REQUESTS = [
    pytest.param(
        "POST",
        "/entities",
        {"content": f'{{"id":"urn:a:1","a":{_DEEP}}}'.encode(), "headers": _JSON},
        id="deep",
    ),
    pytest.param(
        "POST", "/entities", {"content": b'{"id":"urn:a:2","a":{"value":NaN}}', "headers": _JSON}, id="nan"
    ),
    pytest.param(
        "POST", "/entities", {"content": b'{"id":"urn:a:3","a":{"value":1e400}}', "headers": _JSON}, id="inf"
    ),
    pytest.param("POST", "/entities", {"content": b"\xff\xfe{}", "headers": _JSON}, id="not-utf8"),
    pytest.param("POST", "/entities", {"content": b"null", "headers": _JSON}, id="null-body"),
    pytest.param("POST", "/entities", {"json": {"id": "urn:a:" + "x" * 10000, "type": "T"}}, id="huge-id"),
    pytest.param("POST", "/entities", {"json": {"id": "urn:a:4", "type": ["T", 5]}}, id="number-type"),
    pytest.param(
        "POST", "/entities", {"json": {"id": "urn:a:5", "type": "T"}, "headers": {"Link": "x"}}, id="bad-link"
    ),
    pytest.param(
        "GET", "/entities", {"params": {"type": "T", "q": "(" * 2000 + "a==1" + ")" * 2000}}, id="deep-q"
    ),
    pytest.param("GET", "/entities", {"params": {"type": "T", "q": "a==\x00"}}, id="nul-in-q"),
    pytest.param(
        "GET",
        "/entities",
        {"params": {"type": "T", "georel": "within", "geometry": "Polygon", "coordinates": "[[["}},
        id="broken-coordinates",
    ),
    pytest.param(
        "POST", "/entityOperations/query", {"json": {"type": "Query", "entities": "x"}}, id="query-entities"
    ),
    pytest.param("POST", "/entityOperations/delete", {"json": [5, None]}, id="delete-non-ids"),
    pytest.param("POST", "/jsonldContexts", {"json": {"@context": 5}}, id="context-number"),
]


@pytest.mark.parametrize(("method", "path", "request_args"), _HOSTILE_REQUESTS)
def test_hostile_input_never_causes_a_server_error(
    tenant_client: httpx.Client, method: str, path: str, request_args: dict[str, Any]
) -> None:
    response = tenant_client.request(method, path, **request_args)
    assert response.status_code < 500, response.text
    if response.status_code >= 400:
        problem = response.json()
        assert problem["type"].startswith(ERRORS), problem
        assert problem["status"] == response.status_code, problem


def test_link_header_with_an_ld_json_body_answers_400(
    tenant_client: httpx.Client, problem: Callable[..., dict[str, Any]]
) -> None:
    # Clause 6.3.5: the @context comes from the body for application/ld+json, from Link for application/json;
    # mixing both is an error.
    headers = {
        "Content-Type": "application/ld+json",
        "Link": f'<{CORE_CONTEXT}>; rel="http://www.w3.org/ns/json-ld#context"; type="application/ld+json"',
    }
    response = tenant_client.post("/entities", json=entity() | {"@context": CORE_CONTEXT}, headers=headers)
    problem(response, 400, "BadRequestData", "InvalidRequest")
