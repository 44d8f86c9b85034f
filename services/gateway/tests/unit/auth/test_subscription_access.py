"""Subscriptions in oidc mode: who may use them and who the broker is told the caller is."""

from __future__ import annotations

from typing import Any

import httpx
import orjson
from cityos.broker.v1 import broker_pb2 as pb
from cityos.identity.v1 import identity_pb2 as ipb
from cityos_runtime.metadata import CLIENT_ID, OWN_ONLY

SUBSCRIPTION = orjson.dumps(
    {
        "type": "Subscription",
        "entities": [{"type": "Camera"}],
        "notification": {"endpoint": {"uri": "http://x/"}},
    }
)


def _h(token: str, tenant: str = "citya", **extra: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}", "NGSILD-Tenant": tenant, **extra}


def _limit(identity: Any, **policy: Any) -> None:
    identity.policies["citya"] = ipb.AccessPolicies(
        tenant="citya", tenant_state="active", policies=[ipb.EntityPolicy(tenant="citya", **policy)]
    )


async def test_an_unrestricted_member_owns_its_subscriptions_and_sees_every_one(
    oidc: httpx.AsyncClient, mint: Any, broker: Any
) -> None:
    broker.replies["CreateSubscription"] = pb.ResourceResponse(id="urn:s:1")
    json = {"Content-Type": "application/json"}
    created = await oidc.post("/ngsi-ld/v1/subscriptions", content=SUBSCRIPTION, headers=_h(mint(), **json))
    assert created.status_code == 201
    assert broker.last.metadata[CLIENT_ID] == "citya.app" and OWN_ONLY not in broker.last.metadata
    assert (await oidc.get("/ngsi-ld/v1/subscriptions", headers=_h(mint()))).status_code == 200
    assert OWN_ONLY not in broker.last.metadata


async def test_a_client_limited_by_entity_policies_may_subscribe_to_its_own_subscriptions_only(
    oidc: httpx.AsyncClient, mint: Any, identity: Any, broker: Any
) -> None:
    _limit(identity, client_id="citya.app", entity_types=["Gauge"], read=True, attributes=["level"])
    broker.replies["CreateSubscription"] = pb.ResourceResponse(id="urn:s:1")
    json = {"Content-Type": "application/json"}
    # Even to a type it cannot read now: the broker notifies nothing of it until a policy allows it.
    created = await oidc.post("/ngsi-ld/v1/subscriptions", content=SUBSCRIPTION, headers=_h(mint(), **json))
    assert created.status_code == 201
    assert broker.last.rpc == "CreateSubscription"
    assert broker.last.metadata[CLIENT_ID] == "citya.app" and broker.last.metadata[OWN_ONLY] == "1"
    for method, path in (
        ("GET", "/ngsi-ld/v1/subscriptions"),
        ("GET", "/ngsi-ld/v1/subscriptions/urn:s:1"),
        ("PATCH", "/ngsi-ld/v1/subscriptions/urn:s:1"),
        ("DELETE", "/ngsi-ld/v1/subscriptions/urn:s:1"),
    ):
        body = b'{"isActive": false}' if method == "PATCH" else None
        response = await oidc.request(method, path, content=body, headers=_h(mint(), **json))
        assert response.status_code in (200, 204), (method, path, response.text)
        assert broker.last.metadata[OWN_ONLY] == "1", (method, path)


async def test_the_subscriptions_scope_is_still_needed(
    oidc: httpx.AsyncClient, mint: Any, identity: Any, broker: Any
) -> None:
    _limit(identity, client_id="*", entity_types=["Gauge"], read=True)
    token = mint(scope="entities:read")
    json = {"Content-Type": "application/json"}
    refused = await oidc.post("/ngsi-ld/v1/subscriptions", content=SUBSCRIPTION, headers=_h(token, **json))
    assert refused.status_code == 403 and broker.calls == []


async def test_outsiders_may_not_subscribe_even_to_shared_or_public_types(
    oidc: httpx.AsyncClient, mint: Any, identity: Any, broker: Any
) -> None:
    identity.policies["cityb"] = ipb.AccessPolicies(
        tenant="cityb",
        tenant_state="active",
        public_types=["Gauge"],
        grants=[ipb.SharingGrant(owner="cityb", grantee="citya", entity_types=["Gauge"])],
    )
    json = {"Content-Type": "application/json"}
    for method in ("GET", "POST"):
        body = SUBSCRIPTION if method == "POST" else None
        response = await oidc.request(
            method, "/ngsi-ld/v1/subscriptions", content=body, headers=_h(mint(), "cityb", **json)
        )
        assert response.status_code == 403, method
    assert broker.calls == []


async def test_a_platform_admin_creates_subscriptions_without_an_owner(
    oidc: httpx.AsyncClient, mint: Any, broker: Any
) -> None:
    broker.replies["CreateSubscription"] = pb.ResourceResponse(id="urn:s:1")
    token = mint(roles=["platform-admin"])
    json = {"Content-Type": "application/json"}
    created = await oidc.post("/ngsi-ld/v1/subscriptions", content=SUBSCRIPTION, headers=_h(token, **json))
    assert created.status_code == 201
    assert CLIENT_ID not in broker.last.metadata and OWN_ONLY not in broker.last.metadata
