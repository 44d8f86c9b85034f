"""Subscriptions through the gateway (ETSI GS CIM 009 5.8) and a notification to a webhook in this process."""

from __future__ import annotations

import json
import threading
import time
import uuid
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import httpx
import pytest

ERRORS = "https://uri.etsi.org/ngsi-ld/errors/"
TENANT = "NGSILD-Tenant"


@pytest.fixture
def api(client: httpx.Client) -> Iterator[httpx.Client]:
    """An HTTP client bound to a tenant of its own."""
    tenant = f"e2e-{uuid.uuid4().hex[:12]}"
    with httpx.Client(base_url=client.base_url, headers={TENANT: tenant}, timeout=15.0) as own:
        yield own


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


def assert_problem(response: httpx.Response, status: int, kind: str) -> dict[str, Any]:
    assert response.status_code == status, response.text
    problem = response.json()
    assert problem["type"] == ERRORS + kind and problem["status"] == status, problem
    return dict(problem)


def test_subscription_crud(api: httpx.Client) -> None:
    created = api.post("/subscriptions", json=subscription("https://hooks.example.org/n", q="waterLevel>3"))
    assert created.status_code == 201, created.text
    location = created.headers["Location"]
    sub_id = location.rsplit("/", 1)[1]
    assert location == f"/ngsi-ld/v1/subscriptions/{sub_id}" and sub_id.startswith(
        "urn:ngsi-ld:Subscription:"
    )

    got = api.get(f"/subscriptions/{sub_id}")
    assert got.status_code == 200, got.text
    doc = got.json()
    assert doc["id"] == sub_id and doc["type"] == "Subscription"
    assert doc["watchedAttributes"] == ["waterLevel"] and doc["q"] == "waterLevel>3"
    assert doc["status"] == "active"
    assert doc["notification"]["endpoint"]["uri"] == "https://hooks.example.org/n"
    assert doc["notification"]["timesSent"] == 0

    patched = api.patch(f"/subscriptions/{sub_id}", json={"isActive": False, "throttling": 30})
    assert patched.status_code == 204, patched.text
    doc = api.get(f"/subscriptions/{sub_id}").json()
    assert doc["status"] == "paused" and doc["throttling"] == 30

    listed = api.get("/subscriptions", params={"count": "true"})
    assert listed.status_code == 200 and [s["id"] for s in listed.json()] == [sub_id]
    assert listed.headers["NGSILD-Results-Count"] == "1"

    assert_problem(
        api.post("/subscriptions", json=subscription("https://h.example/", id=sub_id)), 409, "AlreadyExists"
    )
    assert api.delete(f"/subscriptions/{sub_id}").status_code == 204
    assert_problem(api.get(f"/subscriptions/{sub_id}"), 404, "ResourceNotFound")


@pytest.mark.parametrize(
    "members",
    [
        {"notification": {"endpoint": {"uri": "gopher://h.example/"}}},
        {"entities": [{"id": "urn:ngsi-ld:WaterLevelGauge:1"}]},
        {"q": "waterLevel>>3"},
        {"timeInterval": 5},
    ],
)
def test_invalid_subscription_is_400(api: httpx.Client, members: dict[str, Any]) -> None:
    problem = assert_problem(
        api.post("/subscriptions", json=subscription("https://h.example/", **members)), 400, "BadRequestData"
    )
    assert problem["detail"]


def test_webhook_receives_notification_after_update(
    api: httpx.Client, webhook: tuple[str, list[tuple[dict[str, str], Any]]]
) -> None:
    url, received = webhook
    created = api.post("/subscriptions", json=subscription(url, notificationTrigger=["attributeUpdated"]))
    assert created.status_code == 201, created.text
    sub_id = created.headers["Location"].rsplit("/", 1)[1]
    gauge = {
        "id": "urn:ngsi-ld:WaterLevelGauge:toyohira-01",
        "type": "WaterLevelGauge",
        "waterLevel": {"type": "Property", "value": 3.2, "unitCode": "MTR"},
        "battery": {"type": "Property", "value": 80},
    }
    assert api.post("/entities", json=gauge).status_code == 201
    update = {"waterLevel": {"type": "Property", "value": 4.1, "unitCode": "MTR"}}
    assert api.patch(f"/entities/{gauge['id']}/attrs", json=update).status_code == 204

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
    assert {k.lower(): v for k, v in headers.items()}["ngsild-tenant"] == api.headers[TENANT]
    time.sleep(0.5)
    assert len(received) == 1  # the creation was not an attributeUpdated: one notification only

    status = api.get(f"/subscriptions/{sub_id}").json()["notification"]
    deadline = time.monotonic() + 10
    while status["timesSent"] != 1 and time.monotonic() < deadline:
        time.sleep(0.1)
        status = api.get(f"/subscriptions/{sub_id}").json()["notification"]
    assert status["timesSent"] == 1 and status["status"] == "ok"
