"""Tenancy, request ids, trace context, body limit, CORS, error mapping, timeouts, auth hook."""

from __future__ import annotations

from typing import Any

import grpc
import httpx
from cityos_gateway.app import create_app
from cityos_gateway.auth import Principal
from cityos_gateway.http import Request
from cityos_runtime.problems import ProblemError

BASE = "/ngsi-ld/v1"
JSON = {"content-type": "application/json"}
TRACEPARENT = "00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01"


async def test_default_tenant_when_header_absent(client: httpx.AsyncClient, broker: Any) -> None:
    response = await client.get(f"{BASE}/entities/urn:x:1")
    assert broker.last.metadata["ngsild-tenant"] == "citya"
    assert "ngsild-tenant" not in response.headers


async def test_tenant_is_lowercased_sent_and_echoed(client: httpx.AsyncClient, broker: Any) -> None:
    response = await client.get(f"{BASE}/entities/urn:x:1", headers={"NGSILD-Tenant": "Sapporo-01"})
    assert broker.last.metadata["ngsild-tenant"] == "sapporo-01"
    assert response.headers["ngsild-tenant"] == "sapporo-01"


async def test_bad_tenant_name_is_400(client: httpx.AsyncClient, broker: Any) -> None:
    for tenant in ("-lead", "a" * 64, "a b", "a.b", "a/b"):
        response = await client.get(
            f"{BASE}/entities/urn:x:1", headers={"NGSILD-Tenant": tenant.encode().decode("latin-1")}
        )
        assert response.status_code == 400, tenant
    assert not broker.calls


async def test_request_id_is_echoed_and_sent(client: httpx.AsyncClient, broker: Any) -> None:
    response = await client.get(f"{BASE}/entities/urn:x:1", headers={"x-request-id": "abc-123"})
    assert response.headers["x-request-id"] == "abc-123"
    assert broker.last.metadata["x-request-id"] == "abc-123"


async def test_insane_request_id_is_replaced(client: httpx.AsyncClient, broker: Any) -> None:
    response = await client.get(f"{BASE}/entities/urn:x:1", headers={"x-request-id": "bad id\twith spaces"})
    generated = response.headers["x-request-id"]
    assert generated != "bad id\twith spaces"
    assert len(generated) == 32
    assert broker.last.metadata["x-request-id"] == generated


async def test_errors_also_carry_request_id(client: httpx.AsyncClient) -> None:
    response = await client.get(f"{BASE}/nowhere", headers={"x-request-id": "r1"})
    assert response.headers["x-request-id"] == "r1"


async def test_broker_call_runs_inside_the_callers_trace(client: httpx.AsyncClient, broker: Any) -> None:
    await client.get(f"{BASE}/entities/urn:x:1", headers={"traceparent": TRACEPARENT})
    # The channel interceptor injects the current context into metadata; here it must be the caller's trace.
    assert format(broker.last.span.trace_id, "032x") == "0af7651916cd43dd8448eb211c80319c"


async def test_declared_oversized_body_is_413_before_reading(client: httpx.AsyncClient, broker: Any) -> None:
    response = await client.post(f"{BASE}/entities", content=b"x" * 2000, headers=JSON)
    assert response.status_code == 413
    assert response.json()["type"].endswith("/PayloadTooLarge")
    assert not broker.calls


async def test_streamed_oversized_body_is_413(app: Any, broker: Any) -> None:
    chunks = [b"[" + b" " * 600, b" " * 600, b"]"]
    received: list[int] = []
    sent: list[dict[str, Any]] = []

    async def receive() -> dict[str, Any]:
        received.append(1)
        chunk = chunks[len(received) - 1]
        return {"type": "http.request", "body": chunk, "more_body": len(received) < len(chunks)}

    async def send(message: dict[str, Any]) -> None:
        sent.append(message)

    scope = {
        "type": "http",
        "method": "POST",
        "path": f"{BASE}/entityOperations/create",
        "raw_path": f"{BASE}/entityOperations/create".encode(),
        "query_string": b"",
        "headers": [(b"content-type", b"application/json")],
    }
    await app(scope, receive, send)
    assert sent[0]["status"] == 413
    assert len(received) == 2, "the gateway must stop reading once the limit is passed"
    assert not broker.calls


async def test_cors_preflight_allowed_origin(client: httpx.AsyncClient, broker: Any) -> None:
    headers = {"origin": "https://app.example", "access-control-request-method": "POST"}
    response = await client.options(f"{BASE}/entities", headers=headers)
    assert response.status_code == 204
    assert response.headers["access-control-allow-origin"] == "https://app.example"
    assert "PATCH" in response.headers["access-control-allow-methods"]
    assert "NGSILD-Tenant" in response.headers["access-control-allow-headers"]
    assert not broker.calls


async def test_cors_preflight_other_origin_is_403(client: httpx.AsyncClient) -> None:
    headers = {"origin": "https://evil.example", "access-control-request-method": "POST"}
    response = await client.options(f"{BASE}/entities", headers=headers)
    assert response.status_code == 403
    assert "access-control-allow-origin" not in response.headers


async def test_cors_headers_on_simple_request(client: httpx.AsyncClient) -> None:
    response = await client.get(f"{BASE}/entities/urn:x:1", headers={"origin": "https://app.example"})
    assert response.headers["access-control-allow-origin"] == "https://app.example"
    exposed = response.headers["access-control-expose-headers"]
    for name in ("NGSILD-Results-Count", "Link", "Location", "X-Request-Id"):
        assert name in exposed
    response = await client.get(f"{BASE}/entities/urn:x:1", headers={"origin": "https://evil.example"})
    assert "access-control-allow-origin" not in response.headers


async def test_cors_off_without_origins(settings_factory: Any, broker: Any) -> None:
    app = create_app(settings_factory(cors_origins=()), broker)
    async with httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://gw") as http:
        headers = {"origin": "https://app.example", "access-control-request-method": "POST"}
        response = await http.options(f"{BASE}/entities", headers=headers)
        assert response.status_code == 405
        assert "access-control-allow-origin" not in response.headers


async def test_broker_problem_is_returned_as_is(
    client: httpx.AsyncClient, broker: Any, make_rpc_error: Any
) -> None:
    problem = ProblemError("ResourceNotFound", "urn:x:1 does not exist", instance="urn:x:1")
    broker.replies["RetrieveEntity"] = make_rpc_error(grpc.StatusCode.NOT_FOUND, "nf", problem)
    response = await client.get(f"{BASE}/entities/urn:x:1")
    assert response.status_code == 404
    assert response.headers["content-type"] == "application/json"
    assert response.json() == problem.to_dict()


async def test_rpc_error_without_problem_is_mapped_by_code(
    client: httpx.AsyncClient, broker: Any, make_rpc_error: Any
) -> None:
    broker.replies["CreateEntity"] = make_rpc_error(grpc.StatusCode.ALREADY_EXISTS, "exists")
    response = await client.post(f"{BASE}/entities", content=b"{}", headers=JSON)
    assert response.status_code == 409
    broker.replies["CreateEntity"] = make_rpc_error(grpc.StatusCode.UNAVAILABLE, "connect failed 10.0.0.1")
    response = await client.post(f"{BASE}/entities", content=b"{}", headers=JSON)
    assert response.status_code == 503
    assert "10.0.0.1" not in response.text


async def test_deadline_is_set_and_exceeded_gives_504(
    client: httpx.AsyncClient, broker: Any, make_rpc_error: Any
) -> None:
    broker.replies["RetrieveEntity"] = make_rpc_error(grpc.StatusCode.DEADLINE_EXCEEDED, "Deadline Exceeded")
    response = await client.get(f"{BASE}/entities/urn:x:1")
    assert response.status_code == 504
    assert broker.last.timeout == 5.0


async def test_unexpected_error_is_500_without_internals(client: httpx.AsyncClient, broker: Any) -> None:
    broker.replies["RetrieveEntity"] = RuntimeError("secret internal state at /srv/x.py")
    response = await client.get(f"{BASE}/entities/urn:x:1")
    assert response.status_code == 500
    body = response.json()
    assert body["type"].endswith("/InternalError")
    assert "secret" not in response.text


class _OneTenantAuthenticator:
    async def authenticate(self, request: Request) -> Principal:
        if request.header("authorization") != "Bearer good":
            raise ProblemError("Unauthorized", "a valid token is required")
        return Principal(subject="alice", tenants=frozenset({"citya"}), scopes=frozenset())


async def test_every_route_goes_through_auth_and_tenant_binding(settings: Any, broker: Any) -> None:
    app = create_app(settings, broker, authenticator=_OneTenantAuthenticator())
    async with httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://gw") as http:
        assert (await http.get(f"{BASE}/types")).status_code == 401
        good = {"authorization": "Bearer good"}
        assert (await http.get(f"{BASE}/types", headers=good)).status_code == 200
        other = {**good, "NGSILD-Tenant": "cityb"}
        response = await http.get(f"{BASE}/types", headers=other)
        assert response.status_code == 403
        assert response.json()["type"].endswith("/Forbidden")
    assert len(broker.calls) == 1
