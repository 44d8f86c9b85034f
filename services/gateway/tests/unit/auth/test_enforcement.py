"""The gateway in oidc mode: tenant binding, scopes, policies (filtered, not only denied), public data,
sharing, API keys, revocation, tenant state, rate limits, 401/403 headers, no secrets in logs."""

from __future__ import annotations

import logging
from typing import Any

import httpx
import orjson
import pytest
from cityos.broker.v1 import broker_pb2 as pb
from cityos.identity.v1 import identity_pb2 as ipb
from cityos_gateway.config import RateLimit
from cityos_gateway.security.oidc import build_enforcement

VOCAB = "https://uri.etsi.org/ngsi-ld/default-context/"


def _h(token: str, tenant: str = "citya", **extra: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}", "NGSILD-Tenant": tenant, **extra}


async def test_a_member_token_reads_its_tenant_unfiltered(
    oidc: httpx.AsyncClient, mint: Any, broker: Any
) -> None:
    response = await oidc.get("/ngsi-ld/v1/entities", params={"type": "Gauge"}, headers=_h(mint()))
    assert response.status_code == 200, response.text
    assert broker.last.request.query.type == "Gauge"


async def test_another_tenant_is_forbidden_with_a_bearer_challenge(
    oidc: httpx.AsyncClient, mint: Any, broker: Any
) -> None:
    for method, path in (("GET", "/entities/urn:a"), ("GET", "/types"), ("POST", "/entityOperations/upsert")):
        response = await oidc.request(
            method, "/ngsi-ld/v1" + path, headers=_h(mint(), "cityb"), content=b"[]"
        )
        assert response.status_code == 403, response.text
        assert response.json()["type"].endswith("/Forbidden")
        assert response.headers["www-authenticate"] == 'Bearer realm="cityos", error="insufficient_scope"'
    assert broker.calls == []


async def test_the_default_tenant_is_bound_too(oidc: httpx.AsyncClient, mint: Any, identity: Any) -> None:
    # Settings' default tenant is citya: a cityb token without NGSILD-Tenant is refused.
    response = await oidc.get(
        "/ngsi-ld/v1/entities",
        params={"type": "T"},
        headers={"Authorization": f"Bearer {mint(tenants=['cityb'], tenant='cityb')}"},
    )
    assert response.status_code == 403


async def test_missing_and_bad_credentials_are_401(oidc: httpx.AsyncClient, mint: Any) -> None:
    anonymous = await oidc.get(
        "/ngsi-ld/v1/entities", params={"type": "T"}, headers={"NGSILD-Tenant": "citya"}
    )
    assert anonymous.status_code == 401
    assert anonymous.headers["www-authenticate"] == 'Bearer realm="cityos"'
    assert anonymous.json()["type"].endswith("/Unauthorized")
    bad = await oidc.get("/ngsi-ld/v1/entities", params={"type": "T"}, headers=_h("x.y.z"))
    assert bad.status_code == 401 and 'error="invalid_token"' in bad.headers["www-authenticate"]
    basic = await oidc.get("/ngsi-ld/v1/entities", headers={"Authorization": "Basic YTpi"})
    assert basic.status_code == 401 and 'error="invalid_request"' in basic.headers["www-authenticate"]


@pytest.mark.parametrize(
    ("scope", "method", "path", "allowed"),
    [
        ("entities:read", "GET", "/entities?type=T", True),
        ("entities:read", "POST", "/entityOperations/query", True),
        ("entities:read", "POST", "/entities", False),
        ("entities:write", "POST", "/entities", True),
        ("entities:write", "GET", "/entities?type=T", False),
        ("entities:read", "GET", "/subscriptions", False),
        ("subscriptions", "GET", "/subscriptions", True),
        ("entities:read", "DELETE", "/entities/urn:x", False),
    ],
)
async def test_scopes_per_route(
    oidc: httpx.AsyncClient, mint: Any, scope: str, method: str, path: str, allowed: bool
) -> None:
    headers = _h(mint(scope=scope), **{"Content-Type": "application/json"})
    body = b'{"id": "urn:x", "type": "T"}' if method == "POST" else None
    response = await oidc.request(method, "/ngsi-ld/v1" + path, headers=headers, content=body)
    if allowed:
        assert response.status_code < 400, response.text
    else:
        assert response.status_code == 403, response.text
        assert f'scope="{scope}"' not in response.headers["www-authenticate"]
        assert "insufficient_scope" in response.headers["www-authenticate"]


async def test_platform_admin_uses_any_tenant(oidc: httpx.AsyncClient, mint: Any, identity: Any) -> None:
    token = mint(roles=["platform-admin"], tenants=["default"])
    response = await oidc.get("/ngsi-ld/v1/entities", params={"type": "T"}, headers=_h(token, "fresh-tenant"))
    assert response.status_code == 200, response.text


async def test_suspended_and_deleted_tenants_are_refused(
    oidc: httpx.AsyncClient, mint: Any, identity: Any
) -> None:
    identity.policies["citya"] = ipb.AccessPolicies(tenant="citya", tenant_state="suspended")
    suspended = await oidc.get("/ngsi-ld/v1/entities", params={"type": "T"}, headers=_h(mint()))
    assert suspended.status_code == 403 and "suspended" in suspended.json()["detail"]
    identity.policies["cityb"] = ipb.AccessPolicies(tenant="cityb", tenant_state="deleted")
    deleted = await oidc.get(
        "/ngsi-ld/v1/entities", params={"type": "T"}, headers=_h(mint(roles=["platform-admin"]), "cityb")
    )
    assert deleted.status_code == 404


async def test_entity_policies_narrow_queries_and_refuse_other_writes(
    oidc: httpx.AsyncClient, mint: Any, identity: Any, broker: Any
) -> None:
    identity.policies["citya"] = ipb.AccessPolicies(
        tenant="citya",
        tenant_state="active",
        policies=[
            ipb.EntityPolicy(
                tenant="citya", client_id="citya.app", entity_types=["Gauge"], read=True, write=True
            )
        ],
    )
    token = mint()
    listed = await oidc.get(
        "/ngsi-ld/v1/entities", params={"type": "Gauge,Camera", "count": "true"}, headers=_h(token)
    )
    assert listed.status_code == 200
    assert broker.last.request.query.type == f"(Gauge,Camera);({VOCAB}Gauge)"
    everything = await oidc.get("/ngsi-ld/v1/entities", params={"q": "level>1"}, headers=_h(token))
    assert everything.status_code == 200 and broker.last.request.query.type == f"{VOCAB}Gauge"

    body = orjson.dumps({"type": "Query", "entities": [{"idPattern": ".*"}]})
    queried = await oidc.post(
        "/ngsi-ld/v1/entityOperations/query",
        content=body,
        headers=_h(token, **{"Content-Type": "application/json"}),
    )
    assert queried.status_code == 200
    sent = orjson.loads(broker.last.request.query_body)
    assert (
        sent["entities"] == [{"idPattern": ".*", "type": f"({VOCAB}Gauge)"}]
        or sent["entities"][0]["type"] == f"{VOCAB}Gauge"
    )

    json_headers = _h(token, **{"Content-Type": "application/json"})
    refused = await oidc.post(
        "/ngsi-ld/v1/entities", content=b'{"id": "urn:c", "type": "Camera"}', headers=json_headers
    )
    assert refused.status_code == 403
    remapped = await oidc.post(
        "/ngsi-ld/v1/entities",
        content=b'{"id": "urn:c", "type": "Gauge", "@context": {"Gauge": "https://x.example/Camera"}}',
        headers=_h(token, **{"Content-Type": "application/ld+json"}),
    )
    assert remapped.status_code == 403, "a private @context cannot rename a forbidden type"
    created = await oidc.post(
        "/ngsi-ld/v1/entities", content=b'{"id": "urn:g", "type": "Gauge"}', headers=json_headers
    )
    assert created.status_code == 201
    batch = orjson.dumps([{"id": "urn:g2", "type": "Gauge"}, {"id": "urn:c2", "type": "Camera"}])
    assert (
        await oidc.post("/ngsi-ld/v1/entityOperations/upsert", content=batch, headers=json_headers)
    ).status_code == 403


async def test_single_entity_access_is_checked_with_a_count_query(
    oidc: httpx.AsyncClient, mint: Any, identity: Any, broker: Any
) -> None:
    identity.policies["citya"] = ipb.AccessPolicies(
        tenant="citya",
        tenant_state="active",
        policies=[ipb.EntityPolicy(client_id="*", entity_types=["Gauge"], read=True)],
    )
    broker.replies["QueryEntities"] = pb.QueryEntitiesResponse(count=0)
    hidden = await oidc.get("/ngsi-ld/v1/entities/urn:camera", headers=_h(mint()))
    assert hidden.status_code == 404
    check = broker.last.request
    assert list(check.query.ids) == ["urn:camera"] and check.count and check.limit_set and check.limit == 0
    assert check.query.type == f"{VOCAB}Gauge"
    broker.replies["QueryEntities"] = pb.QueryEntitiesResponse(count=1)
    assert (await oidc.get("/ngsi-ld/v1/entities/urn:gauge", headers=_h(mint()))).status_code == 200
    assert broker.last.rpc == "RetrieveEntity"
    write = await oidc.patch(
        "/ngsi-ld/v1/entities/urn:gauge/attrs",
        content=b"{}",
        headers=_h(mint(), **{"Content-Type": "application/json"}),
    )
    assert write.status_code == 403, "read-only policy"


async def test_type_discovery_is_filtered(
    oidc: httpx.AsyncClient, mint: Any, identity: Any, broker: Any
) -> None:
    identity.policies["cityb"] = ipb.AccessPolicies(
        tenant="cityb",
        tenant_state="active",
        grants=[ipb.SharingGrant(owner="cityb", grantee="citya", entity_types=["Gauge"])],
    )
    broker.replies["ListTypes"] = pb.Document(
        body=orjson.dumps({"id": "urn:x", "type": "EntityTypeList", "typeList": ["Camera", "Gauge"]})
    )
    response = await oidc.get("/ngsi-ld/v1/types", headers=_h(mint(), "cityb"))
    assert response.status_code == 200 and response.json()["typeList"] == ["Gauge"]
    assert (await oidc.get("/ngsi-ld/v1/types/Camera", headers=_h(mint(), "cityb"))).status_code == 404
    assert (await oidc.get("/ngsi-ld/v1/attributes", headers=_h(mint(), "cityb"))).status_code == 403
    shared_write = await oidc.post(
        "/ngsi-ld/v1/entities",
        content=b'{"id":"urn:g","type":"Gauge"}',
        headers=_h(mint(), "cityb", **{"Content-Type": "application/json"}),
    )
    assert shared_write.status_code == 403


async def test_public_types_are_readable_without_a_token(
    oidc: httpx.AsyncClient, identity: Any, broker: Any
) -> None:
    identity.policies["cityb"] = ipb.AccessPolicies(
        tenant="cityb", tenant_state="active", public_types=["Shelter"]
    )
    response = await oidc.get("/ngsi-ld/v1/entities", headers={"NGSILD-Tenant": "cityb"})
    assert response.status_code == 200
    assert broker.last.request.query.type == f"{VOCAB}Shelter"
    write = await oidc.post(
        "/ngsi-ld/v1/entities",
        content=b'{"id":"urn:s","type":"Shelter"}',
        headers={"NGSILD-Tenant": "cityb", "Content-Type": "application/json"},
    )
    assert write.status_code == 401


async def test_api_keys_by_header_are_cached(oidc: httpx.AsyncClient, identity: Any) -> None:
    identity.api_keys["ck.citya.k1.secret"] = ipb.ApiKey(
        key_id="k1", tenant="citya", scopes=["entities:read"]
    )
    for headers in ({"X-API-Key": "ck.citya.k1.secret"}, {"Authorization": "ApiKey ck.citya.k1.secret"}):
        response = await oidc.get(
            "/ngsi-ld/v1/entities", params={"type": "T"}, headers={**headers, "NGSILD-Tenant": "citya"}
        )
        assert response.status_code == 200, response.text
    assert identity.key_calls == 1
    other = await oidc.get(
        "/ngsi-ld/v1/entities",
        params={"type": "T"},
        headers={"X-API-Key": "ck.citya.k1.secret", "NGSILD-Tenant": "cityb"},
    )
    assert other.status_code == 403
    wrong = await oidc.get(
        "/ngsi-ld/v1/entities",
        params={"type": "T"},
        headers={"X-API-Key": "ck.nope", "NGSILD-Tenant": "citya"},
    )
    assert wrong.status_code == 401


async def test_revoked_tokens_are_refused_after_the_next_poll(
    oidc: httpx.AsyncClient, mint: Any, identity: Any
) -> None:
    token = mint(jti="to-revoke")
    assert (
        await oidc.get("/ngsi-ld/v1/entities", params={"type": "T"}, headers=_h(token))
    ).status_code == 200
    identity.revoked.append(ipb.RevokedToken(jti="to-revoke", expires_at=2**40))
    await oidc.enforcement.revocations.poll_once()  # type: ignore[attr-defined]
    response = await oidc.get("/ngsi-ld/v1/entities", params={"type": "T"}, headers=_h(token))
    assert response.status_code == 401 and "revoked" in response.json()["detail"]


async def test_policies_are_cached_per_tenant(oidc: httpx.AsyncClient, mint: Any, identity: Any) -> None:
    for _ in range(4):
        await oidc.get("/ngsi-ld/v1/entities", params={"type": "T"}, headers=_h(mint()))
    assert identity.policy_calls == 1


# An hour's window: the fixed window must not roll over between the requests of this test (a minute's did,
# now and then, on a busy machine).
@pytest.mark.parametrize("rate_limit", [RateLimit(5, 3600)])
async def test_rate_limit_is_per_client_with_retry_after(
    oidc: httpx.AsyncClient, mint: Any, redis: Any
) -> None:
    token = mint()
    statuses = [
        (await oidc.get("/ngsi-ld/v1/entities", params={"type": "T"}, headers=_h(token))).status_code
        for _ in range(6)
    ]
    assert statuses == [200] * 5 + [429]
    limited = await oidc.get("/ngsi-ld/v1/entities", params={"type": "T"}, headers=_h(token))
    assert limited.status_code == 429 and limited.json()["type"].endswith("/TooManyRequests")
    assert 1 <= int(limited.headers["retry-after"]) <= 3600
    other = await oidc.get(
        "/ngsi-ld/v1/entities", params={"type": "T"}, headers=_h(mint(client_id="citya.other", sub="x"))
    )
    assert other.status_code == 200, "another client has its own budget"
    assert redis.round_trips == 8, "one round trip per request"
    assert all("citya" not in key for key in redis.counters), "keys hold a digest, not the client id"


async def test_secrets_never_reach_the_logs(
    oidc: httpx.AsyncClient, mint: Any, identity: Any, caplog: pytest.LogCaptureFixture
) -> None:
    token = mint()
    identity.api_keys["ck.citya.k9.topsecret"] = ipb.ApiKey(
        key_id="k9", tenant="citya", scopes=["entities:read"]
    )
    with caplog.at_level(logging.DEBUG):
        await oidc.get(
            "/ngsi-ld/v1/entities",
            params={"type": "T"},
            headers=_h(token, Cookie="cityos_session=sess-secret"),
        )
        await oidc.get("/ngsi-ld/v1/entities", params={"type": "T"}, headers=_h(token + "x"))
        await oidc.get(
            "/ngsi-ld/v1/entities",
            params={"type": "T"},
            headers={"X-API-Key": "ck.citya.k9.topsecret", "NGSILD-Tenant": "citya"},
        )
        await oidc.get(
            "/ngsi-ld/v1/entities",
            params={"type": "T"},
            headers={"X-API-Key": "ck.bad.secret2", "NGSILD-Tenant": "citya"},
        )
    text = "\n".join(f"{r.getMessage()} {r.__dict__}" for r in caplog.records)
    assert caplog.records, "the access log was written"
    for secret in (token, token.split(".")[2], "sess-secret", "topsecret", "secret2"):
        assert secret not in text


async def test_a_type_expression_cannot_escape_the_restriction(
    oidc: httpx.AsyncClient, identity: Any, broker: Any
) -> None:
    identity.policies["cityb"] = ipb.AccessPolicies(
        tenant="cityb", tenant_state="active", public_types=["Shelter"]
    )
    for expression in ("Camera)|(Shelter", "(Camera", "Camera))"):
        response = await oidc.get(
            "/ngsi-ld/v1/entities", params={"type": expression}, headers={"NGSILD-Tenant": "cityb"}
        )
        assert response.status_code == 400, expression
    body = orjson.dumps({"type": "Query", "entities": [{"type": "Camera)|(Shelter"}]})
    response = await oidc.post(
        "/ngsi-ld/v1/entityOperations/query",
        content=body,
        headers={"NGSILD-Tenant": "cityb", "Content-Type": "application/json"},
    )
    assert response.status_code == 400
    assert broker.calls == []


async def test_not_ready_until_the_jwks_is_loaded(oidc_settings: Any, identity: Any, redis: Any) -> None:
    keys, identity.keys = identity.keys, []
    enforcement = build_enforcement(oidc_settings, identity, redis)
    assert await enforcement.ready() is False
    identity.keys = keys
    assert await enforcement.ready() is True


async def test_attribute_policies_project_reads_and_refuse_attribute_filters(
    oidc: httpx.AsyncClient, mint: Any, identity: Any, broker: Any
) -> None:
    identity.policies["citya"] = ipb.AccessPolicies(
        tenant="citya",
        tenant_state="active",
        policies=[
            ipb.EntityPolicy(
                client_id="citya.app", entity_types=["Gauge"], attributes=["level", "location"], read=True
            )
        ],
    )
    token = mint()
    listed = await oidc.get("/ngsi-ld/v1/entities", params={"type": "Gauge"}, headers=_h(token))
    assert listed.status_code == 200
    assert list(broker.last.request.render.pick) == ["id", "level", "location", "type"]
    picked = await oidc.get(
        "/ngsi-ld/v1/entities", params={"type": "Gauge", "pick": "level,owner"}, headers=_h(token)
    )
    assert picked.status_code == 200 and list(broker.last.request.render.pick) == ["level"]
    only_forbidden = await oidc.get(
        "/ngsi-ld/v1/entities", params={"type": "Gauge", "pick": "owner"}, headers=_h(token)
    )
    assert only_forbidden.status_code == 200 and list(broker.last.request.render.pick) == ["id", "type"]
    for params in ({"q": "owner==%22x%22"}, {"attrs": "owner"}, {"georel": "near;maxDistance==1"}):
        refused = await oidc.get(
            "/ngsi-ld/v1/entities", params={"type": "Gauge", **params}, headers=_h(token)
        )
        assert refused.status_code == 403, params
    linked = await oidc.get(
        "/ngsi-ld/v1/entities",
        params={"type": "Gauge"},
        headers=_h(token, Link='<https://x.example/ctx.jsonld>; rel="http://www.w3.org/ns/json-ld#context"'),
    )
    assert linked.status_code == 403, "a private @context could rename a forbidden attribute"
    body = orjson.dumps({"type": "Query", "q": "owner==1"})
    queried = await oidc.post(
        "/ngsi-ld/v1/entityOperations/query",
        content=body,
        headers=_h(token, **{"Content-Type": "application/json"}),
    )
    assert queried.status_code == 403
