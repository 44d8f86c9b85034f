"""Notification documents: stable ids, projection, formats, showChanges, @context handling, deletions."""

from __future__ import annotations

from typing import Any

import orjson
from cityos_broker.ngsild.contexts import TermMap
from cityos_broker.subscriptions.model import parse_subscription
from cityos_broker.subscriptions.notification import build_notification, notification_id
from cityos_broker.subscriptions.senders import backoff_delays

NOW = "2026-11-22T03:00:00.000000Z"
SPEED = "https://example.org/vocab#speed"
CAR = "https://example.org/types#Car"
DEFAULT = "https://uri.etsi.org/ngsi-ld/default-context/"


def car(speed: float, plate: str = "X") -> dict[str, Any]:
    return {
        "id": "urn:ngsi-ld:Car:1",
        "type": [CAR],
        "attrs": {
            SPEED: [{"type": "Property", "value": speed, "modifiedAt": NOW}],
            DEFAULT + "plate": [{"type": "Property", "value": plate}],
        },
    }


def sub(terms: TermMap, **notification: Any) -> dict[str, Any]:
    endpoint = notification.pop("endpoint", {"uri": "http://h.example/"})
    doc = {
        "type": "Subscription",
        "entities": [{"type": "Car"}],
        "notification": {**notification, "endpoint": endpoint},
    }
    return parse_subscription(doc, terms, NOW)


def test_notification_ids_are_stable_and_distinct() -> None:
    first = notification_id("urn:ngsi-ld:Subscription:a", "1700000000000-0")
    assert first == notification_id("urn:ngsi-ld:Subscription:a", "1700000000000-0")
    assert first != notification_id("urn:ngsi-ld:Subscription:b", "1700000000000-0")
    assert first != notification_id("urn:ngsi-ld:Subscription:a", "1700000000000-1")
    assert first.startswith("urn:ngsi-ld:Notification:")


def test_projection_show_changes_and_link(user: TermMap) -> None:
    s = sub(user, attributes=["speed"], showChanges=True)
    out = build_notification(s, "1-0", [(car(10), car(20))], user, NOW)
    body = orjson.loads(out.body)
    assert body["type"] == "Notification" and body["subscriptionId"] == s["id"] and body["notifiedAt"] == NOW
    assert body["id"] == out.id == notification_id(s["id"], "1-0")
    assert body["data"] == [
        {
            "id": "urn:ngsi-ld:Car:1",
            "type": "Car",
            "speed": {"type": "Property", "value": 20, "previousValue": 10},
        }
    ]
    assert out.content_type == "application/json" and out.link == "https://example.org/ctx.jsonld"
    assert "@context" not in body


def test_key_values_sys_attrs_and_json_ld(user: TermMap) -> None:
    s = sub(user, format="keyValues", endpoint={"uri": "http://h.example/", "accept": "application/ld+json"})
    body = orjson.loads(build_notification(s, "1-0", [(None, car(3))], user, NOW).body)
    assert body["data"] == [{"id": "urn:ngsi-ld:Car:1", "type": "Car", "speed": 3, "plate": "X"}]
    assert body["@context"][0] == "https://example.org/ctx.jsonld"
    s = sub(user, sysAttrs=True, attributes=["speed"])
    body = orjson.loads(build_notification(s, "1-0", [(None, car(3))], user, NOW).body)
    assert body["data"][0]["speed"]["modifiedAt"] == NOW


def test_deletion_carries_id_type_and_deleted_at(core: TermMap) -> None:
    s = sub(core)
    body = orjson.loads(build_notification(s, "1-0", [(car(1), car(1))], core, NOW, deleted=True).body)
    assert body["data"] == [{"id": "urn:ngsi-ld:Car:1", "type": CAR, "deletedAt": NOW}]


def test_backoff_schedule() -> None:
    assert backoff_delays(5, 0.5, 3.0) == [0.5, 1.0, 2.0, 3.0]
    assert backoff_delays(1, 0.5, 3.0) == []
