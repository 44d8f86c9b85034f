"""Notifications carry only what the subscription's owner may read: a client limited by entity policies
subscribes through the gateway; the broker asks identity for the tenant's policies and filters each
notification that reaches a real webhook receiver."""

from __future__ import annotations

import json
import threading
import time
from collections.abc import Callable, Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import httpx
import pytest

API = "/ngsi-ld/v1"
GAUGE = "urn:ngsi-ld:WaterLevelGauge:toyohira-07"
CAMERA = "urn:ngsi-ld:TrafficCamera:susukino-02"


class _Hook(BaseHTTPRequestHandler):
    """Records every POST body and answers 204."""

    def do_POST(self) -> None:
        length = int(self.headers.get("Content-Length", "0"))
        self.server.received.append(json.loads(self.rfile.read(length)))  # type: ignore[attr-defined]
        self.send_response(204)
        self.end_headers()

    def log_message(self, format: str, *args: Any) -> None:
        return


@pytest.fixture
def received() -> Iterator[tuple[str, list[dict[str, Any]]]]:
    """(url, notification bodies) of a webhook receiver in this process."""
    server = ThreadingHTTPServer(("127.0.0.1", 0), _Hook)
    server.received = []  # type: ignore[attr-defined]
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}/notify", server.received  # type: ignore[attr-defined]
    finally:
        server.shutdown()
        server.server_close()


@pytest.fixture
def api(stack: Any) -> Iterator[httpx.Client]:
    with httpx.Client(base_url=stack.gateway_url + API, timeout=15.0) as http:
        yield http


def _subscription(url: str, entity_type: str) -> dict[str, Any]:
    return {
        "type": "Subscription",
        "entities": [{"type": entity_type}],
        "notification": {"endpoint": {"uri": url}},
    }


def _wait(check: Callable[[], bool], what: str, timeout: float = 30.0) -> None:
    deadline = time.monotonic() + timeout  # the notifier sees a new tenant within its refresh period (5 s)
    while not check():
        assert time.monotonic() < deadline, f"timed out waiting for {what}"
        time.sleep(0.2)


def test_a_limited_client_is_notified_only_of_what_it_may_read(
    api: httpx.Client,
    client: httpx.Client,
    admin_api: httpx.Client,
    onboard: Callable[..., Any],
    received: tuple[str, list[dict[str, Any]]],
) -> None:
    url, bodies = received
    town = onboard("notify")
    admin = {"NGSILD-Tenant": town.tenant}  # `client` acts as the platform admin
    entities = [
        {
            "id": GAUGE,
            "type": "WaterLevelGauge",
            "waterLevel": {"type": "Property", "value": 2.1},
            "battery": {"type": "Property", "value": 80},
        },
        {"id": CAMERA, "type": "TrafficCamera", "status": {"type": "Property", "value": "on"}},
    ]
    assert client.post("/entityOperations/create", json=entities, headers=admin).status_code == 201
    policy = {"entityTypes": ["WaterLevelGauge"], "attributes": ["waterLevel"], "read": True}
    put = admin_api.put(f"/tenants/{town.tenant}/policies/{town.client_id}/levels", json=policy)
    assert put.status_code == 200, put.text

    # The limited client may subscribe, also to a type it cannot read (nothing of it is notified).
    own = {**town.headers(), "Content-Type": "application/json"}
    cameras = api.post("/subscriptions", json=_subscription(url, "TrafficCamera"), headers=own)
    assert cameras.status_code == 201, cameras.text
    gauges = api.post("/subscriptions", json=_subscription(url, "WaterLevelGauge"), headers=own)
    assert gauges.status_code == 201, gauges.text
    marker = client.post("/subscriptions", json=_subscription(url, "TrafficCamera"), headers=admin)
    assert marker.status_code == 201, marker.text
    ids = {name: r.headers["Location"].rsplit("/", 1)[1] for name, r in
           (("cameras", cameras), ("gauges", gauges), ("marker", marker))}  # fmt: skip
    listed = api.get("/subscriptions", headers=town.headers())
    assert sorted(s["id"] for s in listed.json()) == sorted([ids["cameras"], ids["gauges"]]), "its own only"
    assert api.get(f"/subscriptions/{ids['marker']}", headers=town.headers()).status_code == 404

    def of(name: str) -> list[dict[str, Any]]:
        return [b for b in list(bodies) if b["subscriptionId"] == ids[name]]

    status = {"status": {"type": "Property", "value": "off"}}
    assert client.patch(f"/entities/{CAMERA}/attrs", json=status, headers=admin).status_code == 204
    change = {"waterLevel": {"type": "Property", "value": 3.4}, "battery": {"type": "Property", "value": 79}}
    assert client.patch(f"/entities/{GAUGE}/attrs", json=change, headers=admin).status_code == 204
    _wait(lambda: bool(of("marker")) and bool(of("gauges")), "the marker's and the gauge notifications")
    [data] = of("gauges")[0]["data"]
    assert data == {"id": GAUGE, "type": "WaterLevelGauge", "waterLevel": {"type": "Property", "value": 3.4}}
    # The camera change was matched in the same batch as the marker's notification and sent by now.
    time.sleep(1.0)
    assert of("cameras") == [], "a type the owner may not read is never notified"
    assert all("battery" not in d for b in of("gauges") for d in b["data"])
