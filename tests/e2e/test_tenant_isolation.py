"""Tenant isolation through the real stack: a token of municipality A never reaches municipality B's data
(by id, query, count, batch, type discovery, subscriptions), unless B shares or publishes it."""

from __future__ import annotations

import time
import uuid
from collections.abc import Callable
from typing import Any

import httpx
import pytest

API = "/ngsi-ld/v1"


def _gauge(level: float = 1.0) -> dict[str, Any]:
    return {
        "id": f"urn:ngsi-ld:WaterLevelGauge:{uuid.uuid4().hex[:10]}",
        "type": "WaterLevelGauge",
        "waterLevel": {"type": "Property", "value": level},
    }


def _camera() -> dict[str, Any]:
    return {
        "id": f"urn:ngsi-ld:TrafficCamera:{uuid.uuid4().hex[:10]}",
        "type": "TrafficCamera",
        "status": {"type": "Property", "value": "on"},
    }


@pytest.fixture
def api(stack: Any) -> Any:
    with httpx.Client(base_url=stack.gateway_url + API, timeout=15.0) as http:
        yield http


@pytest.fixture
def towns(onboard: Callable[..., Any], api: httpx.Client) -> tuple[Any, Any, dict[str, Any], dict[str, Any]]:
    """Two municipalities; B holds a gauge and a camera written with its own token."""
    a, b = onboard("iso-a"), onboard("iso-b")
    gauge, camera = _gauge(), _camera()
    created = api.post("/entityOperations/create", json=[gauge, camera], headers=b.headers())
    assert created.status_code == 201, created.text
    return a, b, gauge, camera


def _is_forbidden(response: httpx.Response) -> None:
    assert response.status_code == 403, response.text
    assert response.headers["content-type"].startswith("application/json")
    assert response.json()["type"].endswith("/Forbidden")
    assert 'error="insufficient_scope"' in response.headers["www-authenticate"]


def test_a_token_of_a_cannot_touch_b_by_any_route(api: httpx.Client, towns: Any) -> None:
    a, b, gauge, _ = towns
    as_a_in_b = {"Authorization": f"Bearer {a.token}", "NGSILD-Tenant": b.tenant}
    json_body = {**as_a_in_b, "Content-Type": "application/json"}
    _is_forbidden(api.get(f"/entities/{gauge['id']}", headers=as_a_in_b))
    _is_forbidden(api.get("/entities", params={"type": "WaterLevelGauge"}, headers=as_a_in_b))
    _is_forbidden(
        api.get(
            "/entities", params={"type": "WaterLevelGauge", "count": "true", "limit": "0"}, headers=as_a_in_b
        )
    )
    _is_forbidden(
        api.post(
            "/entityOperations/query",
            json={"type": "Query", "entities": [{"type": "WaterLevelGauge"}]},
            headers=json_body,
        )
    )
    _is_forbidden(api.post("/entities", json=_gauge(), headers=json_body))
    _is_forbidden(api.post("/entityOperations/upsert", json=[_gauge()], headers=json_body))
    _is_forbidden(api.post("/entityOperations/delete", json=[gauge["id"]], headers=json_body))
    _is_forbidden(api.patch(f"/entities/{gauge['id']}/attrs", json={"waterLevel": 9}, headers=json_body))
    _is_forbidden(api.delete(f"/entities/{gauge['id']}", headers=as_a_in_b))
    _is_forbidden(api.get("/types", headers=as_a_in_b))
    _is_forbidden(api.get("/attributes", headers=as_a_in_b))
    subscription = {
        "type": "Subscription",
        "entities": [{"type": "WaterLevelGauge"}],
        "notification": {"endpoint": {"uri": "http://127.0.0.1:9/n"}},
    }
    _is_forbidden(api.post("/subscriptions", json=subscription, headers=json_body))
    _is_forbidden(api.get("/subscriptions", headers=as_a_in_b))
    # B's data is untouched and still B's.
    own = api.get(f"/entities/{gauge['id']}", headers=b.headers())
    assert own.status_code == 200 and own.json()["waterLevel"]["value"] == 1.0
    # A's own tenant does not see B's entity either.
    mine = api.get("/entities", params={"type": "WaterLevelGauge"}, headers=a.headers())
    assert mine.status_code == 200 and mine.json() == []


def test_without_credentials_the_api_answers_401_with_a_bearer_challenge(
    api: httpx.Client, towns: Any
) -> None:
    _, b, gauge, _ = towns
    response = api.get(f"/entities/{gauge['id']}", headers={"NGSILD-Tenant": b.tenant})
    assert response.status_code == 401, response.text
    assert response.headers["www-authenticate"].startswith('Bearer realm="cityos"')
    bad = api.get(
        f"/entities/{gauge['id']}", headers={"NGSILD-Tenant": b.tenant, "Authorization": "Bearer x.y.z"}
    )
    assert bad.status_code == 401
    assert 'error="invalid_token"' in bad.headers["www-authenticate"]
    assert bad.json()["type"].endswith("/Unauthorized")


def test_a_sharing_grant_lets_a_read_only_the_granted_types(
    api: httpx.Client, admin_api: httpx.Client, towns: Any
) -> None:
    a, b, gauge, camera = towns
    granted = admin_api.put(
        f"/tenants/{b.tenant}/sharing-grants/{a.tenant}", json={"entityTypes": ["WaterLevelGauge"]}
    )
    assert granted.status_code == 200, granted.text
    as_a_in_b = {"Authorization": f"Bearer {a.token}", "NGSILD-Tenant": b.tenant}
    deadline = time.monotonic() + 15  # the gateway's policy cache lives a few seconds
    while True:
        listed = api.get("/entities", params={"type": "WaterLevelGauge,TrafficCamera"}, headers=as_a_in_b)
        if listed.status_code == 200 or time.monotonic() > deadline:
            break
        time.sleep(0.5)
    assert listed.status_code == 200, listed.text
    assert [e["id"] for e in listed.json()] == [gauge["id"]], "only the granted type is returned"
    everything = api.get("/entities", params={"attrs": "status,waterLevel"}, headers=as_a_in_b)
    assert [e["id"] for e in everything.json()] == [gauge["id"]]
    counted = api.get(
        "/entities", params={"attrs": "status,waterLevel", "count": "true", "limit": "0"}, headers=as_a_in_b
    )
    assert counted.headers["ngsild-results-count"] == "1"
    assert api.get(f"/entities/{gauge['id']}", headers=as_a_in_b).status_code == 200
    assert api.get(f"/entities/{camera['id']}", headers=as_a_in_b).status_code == 404
    queried = api.post(
        "/entityOperations/query",
        json={"type": "Query", "attrs": ["status", "waterLevel"]},
        headers=as_a_in_b,
    )
    assert [e["id"] for e in queried.json()] == [gauge["id"]]
    types = api.get("/types", headers=as_a_in_b)
    assert types.json()["typeList"] == ["WaterLevelGauge"]
    _is_forbidden(
        api.post("/entities", json=_gauge(), headers={**as_a_in_b, "Content-Type": "application/json"})
    )


def test_public_types_are_readable_without_a_token_and_nothing_else(
    api: httpx.Client, admin_api: httpx.Client, towns: Any
) -> None:
    _, b, gauge, camera = towns
    published = admin_api.put(f"/tenants/{b.tenant}/public-types", json={"entityTypes": ["WaterLevelGauge"]})
    assert published.status_code == 200, published.text
    anonymous = {"NGSILD-Tenant": b.tenant}
    deadline = time.monotonic() + 15
    while (
        listed := api.get("/entities", params={"attrs": "status,waterLevel"}, headers=anonymous)
    ).status_code != 200:
        assert time.monotonic() < deadline, listed.text
        time.sleep(0.5)
    assert [e["id"] for e in listed.json()] == [gauge["id"]]
    assert api.get(f"/entities/{camera['id']}", headers=anonymous).status_code == 404
    written = api.post("/entities", json=_gauge(), headers={**anonymous, "Content-Type": "application/json"})
    assert written.status_code == 401


def test_entity_policies_filter_reads_and_refuse_writes_of_other_types(
    api: httpx.Client, admin_api: httpx.Client, onboard: Callable[..., Any]
) -> None:
    town = onboard("pol")
    gauge, camera = _gauge(), _camera()
    assert (
        api.post("/entityOperations/create", json=[gauge, camera], headers=town.headers()).status_code == 201
    )
    policy = {"entityTypes": ["WaterLevelGauge"], "read": True, "write": True}
    put = admin_api.put(f"/tenants/{town.tenant}/policies/{town.client_id}/gauges", json=policy)
    assert put.status_code == 200, put.text
    deadline = time.monotonic() + 15
    while (
        len(
            (
                listed := api.get("/entities", params={"attrs": "status,waterLevel"}, headers=town.headers())
            ).json()
        )
        != 1
    ):
        assert time.monotonic() < deadline, listed.text
        time.sleep(0.5)
    assert [e["id"] for e in listed.json()] == [gauge["id"]]
    body = {**town.headers(), "Content-Type": "application/json"}
    assert api.post("/entities", json=_gauge(), headers=body).status_code == 201
    _is_forbidden(api.post("/entities", json=_camera(), headers=body))
    _is_forbidden(api.patch(f"/entities/{camera['id']}/attrs", json={"status": "off"}, headers=body))
    assert (
        api.patch(f"/entities/{gauge['id']}/attrs", json={"waterLevel": 2.0}, headers=body).status_code == 204
    )


def test_a_revoked_token_stops_working_within_the_poll_interval(
    stack: Any, api: httpx.Client, onboard: Callable[..., Any]
) -> None:
    town = onboard("rev")
    assert api.get("/entities", params={"type": "X"}, headers=town.headers()).status_code == 200
    revoked = httpx.post(
        f"{stack.gateway_url}/oauth2/revoke",
        data={"token": town.token, "token_type_hint": "access_token"},
        auth=(town.client_id, town.secret),
    )
    assert revoked.status_code == 200, revoked.text
    deadline = time.monotonic() + 15  # GATEWAY_REVOCATION_POLL is 5 s
    while (response := api.get("/entities", params={"type": "X"}, headers=town.headers())).status_code == 200:
        assert time.monotonic() < deadline, "the revoked token is still accepted"
        time.sleep(0.5)
    assert response.status_code == 401
    assert "revoked" in response.json()["detail"]


def test_onboarding_a_municipality_is_usable_at_once_and_deletion_purges_it(
    stack: Any, api: httpx.Client, admin_api: httpx.Client, onboard: Callable[..., Any]
) -> None:
    town = onboard("new")  # tenant and client created at run time, token issued, no restart
    gauge = _gauge(3.3)
    assert api.post("/entities", json=gauge, headers=town.headers()).status_code == 201
    assert api.get(f"/entities/{gauge['id']}", headers=town.headers()).json()["waterLevel"]["value"] == 3.3
    key = admin_api.post(
        f"/tenants/{town.tenant}/api-keys", json={"name": "sensor", "scopes": ["entities:read"]}
    )
    assert key.status_code == 201, key.text
    with_key = {"X-API-Key": key.json()["secret"], "NGSILD-Tenant": town.tenant}
    assert api.get(f"/entities/{gauge['id']}", headers=with_key).status_code == 200
    _is_forbidden(
        api.post("/entities", json=_gauge(), headers={**with_key, "Content-Type": "application/json"})
    )

    deleted = admin_api.delete(f"/tenants/{town.tenant}")
    assert deleted.status_code == 200, deleted.text
    assert deleted.json()["state"] == "deleted"
    gone = api.get(f"/entities/{gauge['id']}", headers=town.headers())
    assert gone.status_code in (401, 404), gone.text
    # The broker's data is purged too: not even the platform admin finds it.
    admin = admin_api.auth
    with httpx.Client(base_url=stack.gateway_url + API, auth=admin, timeout=15.0) as as_admin:
        response = as_admin.get(f"/entities/{gauge['id']}", headers={"NGSILD-Tenant": town.tenant})
    assert response.status_code == 404, response.text


def test_only_the_platform_admin_manages_tenants(
    api: httpx.Client, stack: Any, onboard: Callable[..., Any]
) -> None:
    town = onboard("mgmt", scopes="entities:read")
    with httpx.Client(base_url=stack.gateway_url + "/admin/v1", timeout=15.0) as admin:
        assert admin.get("/tenants").status_code == 401
        refused = admin.post(
            "/tenants", json={"name": "nope"}, headers={"Authorization": f"Bearer {town.token}"}
        )
    assert refused.status_code == 403
    assert 'scope="admin"' in refused.headers["www-authenticate"]


def test_attribute_policies_hide_other_attributes(
    api: httpx.Client, admin_api: httpx.Client, onboard: Callable[..., Any]
) -> None:
    town = onboard("attr")
    gauge = {**_gauge(), "owner": {"type": "Property", "value": "river office"}}
    assert api.post("/entities", json=gauge, headers=town.headers()).status_code == 201
    policy = {"entityTypes": ["WaterLevelGauge"], "attributes": ["waterLevel"], "read": True}
    assert (
        admin_api.put(f"/tenants/{town.tenant}/policies/{town.client_id}/levels", json=policy).status_code
        == 200
    )
    deadline = time.monotonic() + 15
    while "owner" in (seen := api.get(f"/entities/{gauge['id']}", headers=town.headers())).text:
        assert time.monotonic() < deadline, seen.text
        time.sleep(0.5)
    assert seen.status_code == 200, seen.text
    assert set(seen.json()) == {"id", "type", "waterLevel"}
    filtered = api.get(
        "/entities", params={"type": "WaterLevelGauge", "q": 'owner=="river office"'}, headers=town.headers()
    )
    _is_forbidden(filtered)
