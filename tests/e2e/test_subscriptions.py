"""Subscriptions through the gateway (ETSI GS CIM 009 5.8) and a notification to a webhook in this process."""

from __future__ import annotations

import json
import threading
import time
from collections.abc import Callable, Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import httpx
import pytest

TENANT = "NGSILD-Tenant"


class _Hook(BaseHTTPRequestHandler):
    """Records every POST body and answers 204."""

    def do_POST(self) -> None:
        length = int(self.headers.get("Content-Length", "0"))
        body = json.loads(self.rfile.read(length))
        self.server.received.append((dict(self.headers), body))  # type: ignore[attr-defined]
        self.send_response(204)
        self.end_headers()

    def log_message(self, format: str, *args: Any) -> None:
        return


@pytest.fixture
def webhook() -> Iterator[tuple[str, list[tuple[dict[str, str], Any]]]]:
    """(url, received) of a webhook receiver running in this test process on 127.0.0.1."""
    server = ThreadingHTTPServer(("127.0.0.1", 0), _Hook)
    server.received = []  # type: ignore[attr-defined]
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}/notify", server.received  # type: ignore[attr-defined]
    finally:
        server.shutdown()
        server.server_close()


def subscription(uri: str, **members: Any) -> dict[str, Any]:
    doc: dict[str, Any] = {
        "type": "Subscription",
        "entities": [{"type": "WaterLevelGauge"}],
        "watchedAttributes": ["waterLevel"],
        "notification": {
            "attributes": ["waterLevel"],
            "endpoint": {"uri": uri, "accept": "application/json"},
        },
    }
    doc.update(members)
    return doc


def test_subscription_crud(tenant_client: httpx.Client, problem: Callable[..., dict[str, Any]]) -> None:
    created = tenant_client.post(
        "/subscriptions", json=subscription("https://hooks.example.org/n", q="waterLevel>3")
    )
    assert created.status_code == 201, created.text
    location = created.headers["Location"]
    sub_id = location.rsplit("/", 1)[1]
    assert location == f"/ngsi-ld/v1/subscriptions/{sub_id}" and sub_id.startswith(
        "urn:ngsi-ld:Subscription:"
    )

    got = tenant_client.get(f"/subscriptions/{sub_id}")
    assert got.status_code == 200, got.text
    doc = got.json()
    assert doc["id"] == sub_id and doc["type"] == "Subscription"
    assert doc["watchedAttributes"] == ["waterLevel"] and doc["q"] == "waterLevel>3"
    assert doc["status"] == "active"
    assert doc["notification"]["endpoint"]["uri"] == "https://hooks.example.org/n"
    assert doc["notification"]["timesSent"] == 0

    patched = tenant_client.patch(f"/subscriptions/{sub_id}", json={"isActive": False, "throttling": 30})
    assert patched.status_code == 204, patched.text
    doc = tenant_client.get(f"/subscriptions/{sub_id}").json()
    assert doc["status"] == "paused" and doc["throttling"] == 30

    listed = tenant_client.get("/subscriptions", params={"count": "true"})
    assert listed.status_code == 200 and [s["id"] for s in listed.json()] == [sub_id]
    assert listed.headers["NGSILD-Results-Count"] == "1"

    problem(
        tenant_client.post("/subscriptions", json=subscription("https://h.example/", id=sub_id)),
        409,
        "AlreadyExists",
    )
    assert tenant_client.delete(f"/subscriptions/{sub_id}").status_code == 204
    problem(tenant_client.get(f"/subscriptions/{sub_id}"), 404, "ResourceNotFound")


@pytest.mark.parametrize(
    "members",
    [
        {"notification": {"endpoint": {"uri": "gopher://h.example/"}}},
        {"entities": [{"id": "urn:ngsi-ld:WaterLevelGauge:1"}]},
        {"q": "waterLevel>>3"},
        {"timeInterval": 5},
    ],
)
def test_invalid_subscription_is_400(
    tenant_client: httpx.Client, members: dict[str, Any], problem: Callable[..., dict[str, Any]]
) -> None:
    refused = problem(
        tenant_client.post("/subscriptions", json=subscription("https://h.example/", **members)),
        400,
        "BadRequestData",
    )
    assert refused["detail"]


def test_webhook_receives_notification_after_update(
    tenant_client: httpx.Client, webhook: tuple[str, list[tuple[dict[str, str], Any]]]
) -> None:
    url, received = webhook
    created = tenant_client.post(
        "/subscriptions", json=subscription(url, notificationTrigger=["attributeUpdated"])
    )
    assert created.status_code == 201, created.text
    sub_id = created.headers["Location"].rsplit("/", 1)[1]
    gauge = {
        "id": "urn:ngsi-ld:WaterLevelGauge:toyohira-01",
        "type": "WaterLevelGauge",
        "waterLevel": {"type": "Property", "value": 3.2, "unitCode": "MTR"},
        "battery": {"type": "Property", "value": 80},
    }
    assert tenant_client.post("/entities", json=gauge).status_code == 201
    update = {"waterLevel": {"type": "Property", "value": 4.1, "unitCode": "MTR"}}
    assert tenant_client.patch(f"/entities/{gauge['id']}/attrs", json=update).status_code == 204

    deadline = time.monotonic() + 30  # the notifier sees a new tenant within its refresh period (5 s)
    while not received and time.monotonic() < deadline:
        time.sleep(0.1)
    assert received, "no notification arrived within 30 s"
    headers, body = received[0]
    assert body["type"] == "Notification" and body["subscriptionId"] == sub_id
    assert body["id"].startswith("urn:ngsi-ld:Notification:")
    assert body["data"] == [
        {
            "id": gauge["id"],
            "type": "WaterLevelGauge",
            "waterLevel": {"type": "Property", "value": 4.1, "unitCode": "MTR"},
        }
    ]
    assert {k.lower(): v for k, v in headers.items()}["ngsild-tenant"] == tenant_client.headers[TENANT]
    time.sleep(0.5)
    assert len(received) == 1  # the creation was not an attributeUpdated: one notification only

    status = tenant_client.get(f"/subscriptions/{sub_id}").json()["notification"]
    deadline = time.monotonic() + 10
    while status["timesSent"] != 1 and time.monotonic() < deadline:
        time.sleep(0.1)
        status = tenant_client.get(f"/subscriptions/{sub_id}").json()["notification"]
    assert status["timesSent"] == 1 and status["status"] == "ok"
