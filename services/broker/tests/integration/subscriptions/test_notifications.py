"""Notifications from a running broker to a real webhook receiver: body, stable id, retries, dead letter."""

from __future__ import annotations

import asyncio
from typing import Any

import orjson
import pytest
from cityos.broker.v1 import broker_pb2 as pb
from cityos_broker.subscriptions.notification import notification_id
from cityos_devtools.polling import poll_until
from redis.asyncio import Redis

# Also on a Redis Cluster (cityos_devtools: redis_env), where cross-slot commands fail.
pytestmark = [pytest.mark.integration, pytest.mark.redis_modes("standalone", "cluster")]


def request(doc: dict[str, Any], **fields: Any) -> pb.ResourceRequest:
    return pb.ResourceRequest(
        body=orjson.dumps(doc), ld=pb.LdRequest(content_type="application/json"), **fields
    )


async def subscribe(client: Any, uri: str, **members: Any) -> str:
    doc: dict[str, Any] = {"type": "Subscription", "entities": [{"type": "Vehicle"}]}
    notification = members.pop("notification", {})
    doc["notification"] = {**notification, "endpoint": {"uri": uri, **notification.get("endpoint", {})}}
    doc.update(members)
    return str((await client.call("CreateSubscription", request(doc))).id)


async def status(client: Any, sub_id: str) -> dict[str, Any]:
    reply = await client.call("RetrieveSubscription", pb.ResourceRequest(id=sub_id))
    return dict(orjson.loads(reply.document.body)["notification"])


async def patch_speed(client: Any, n: int, speed: float) -> None:
    await client.call(
        "UpdateAttributes",
        pb.AttributesRequest(
            id=f"urn:ngsi-ld:Vehicle:{n}",
            fragment=orjson.dumps({"speed": {"type": "Property", "value": speed}}),
        ),
    )


async def test_update_is_notified_with_body_headers_and_stable_id(
    client: Any, receiver: Any, redis: Redis
) -> None:
    sub_id = await subscribe(
        client,
        receiver.url("/hook"),
        watchedAttributes=["speed"],
        notificationTrigger=["attributeUpdated"],
        notification={
            "attributes": ["speed"],
            "showChanges": True,
            "endpoint": {"receiverInfo": [{"key": "X-City", "value": "sapporo"}]},
        },
    )
    await client.create(
        {
            "id": "urn:ngsi-ld:Vehicle:1",
            "type": "Vehicle",
            "speed": {"type": "Property", "value": 10},
            "plate": {"type": "Property", "value": "secret"},
        }
    )
    await patch_speed(client, 1, 55)
    await poll_until(lambda: len(receiver.requests) == 1 or None, "one notification", timeout=10)
    [got] = receiver.requests
    assert got.path == "/hook"
    assert got.headers["content-type"] == "application/json"
    assert got.headers["x-city"] == "sapporo"
    assert got.headers["ngsild-tenant"] == client.tenant
    assert got.headers["traceparent"].startswith("00-")  # the delivery span's W3C trace context
    body = got.body
    assert body["type"] == "Notification" and body["subscriptionId"] == sub_id
    [entity] = body["data"]
    assert entity["id"] == "urn:ngsi-ld:Vehicle:1" and entity["type"] == "Vehicle"
    assert entity["speed"]["value"] == 55 and entity["speed"]["previousValue"] == 10
    assert "plate" not in entity  # only the attributes the subscription asks for
    # The id is a pure function of the subscription and the change-stream entry: a redelivery repeats it.
    entries = await redis.xrange(f"{{t:{client.tenant}}}:changes")
    update_entry = entries[-1][0].decode()
    assert body["id"] == notification_id(sub_id, update_entry)
    state = await poll_until(lambda: _sent(client, sub_id, 1), "timesSent to reach 1", timeout=5)
    assert state["status"] == "ok" and "lastSuccess" in state and state["timesFailed"] == 0


async def _sent(client: Any, sub_id: str, times: int) -> dict[str, Any] | None:
    state = await status(client, sub_id)
    return state if state["timesSent"] == times else None


async def test_q_and_creation_triggers(client: Any, receiver: Any) -> None:
    await subscribe(client, receiver.url(), q="speed>50", notification={"format": "keyValues"})
    await client.create(
        {"id": "urn:ngsi-ld:Vehicle:1", "type": "Vehicle", "speed": {"type": "Property", "value": 10}}
    )
    await client.create(
        {"id": "urn:ngsi-ld:Vehicle:2", "type": "Vehicle", "speed": {"type": "Property", "value": 70}}
    )
    await client.create(
        {"id": "urn:ngsi-ld:Bus:3", "type": "Bus", "speed": {"type": "Property", "value": 90}}
    )
    await patch_speed(client, 1, 51)
    await poll_until(lambda: len(receiver.requests) == 2 or None, "two notifications", timeout=10)
    data = [r.body["data"][0] for r in receiver.requests]
    assert sorted((d["id"], d["speed"]) for d in data) == [
        ("urn:ngsi-ld:Vehicle:1", 51),
        ("urn:ngsi-ld:Vehicle:2", 70),
    ]


async def test_paused_subscription_is_not_notified(client: Any, receiver: Any) -> None:
    sub_id = await subscribe(client, receiver.url(), isActive=False)
    await client.create(
        {"id": "urn:ngsi-ld:Vehicle:1", "type": "Vehicle", "speed": {"type": "Property", "value": 1}}
    )
    await client.call("UpdateSubscription", request({"isActive": True}, id=sub_id))
    await patch_speed(client, 1, 2)
    await poll_until(lambda: len(receiver.requests) >= 1 or None, "a notification once active", timeout=10)
    assert [r.body["data"][0]["speed"]["value"] for r in receiver.requests] == [2]


async def test_failures_are_retried_then_dead_lettered(client: Any, receiver: Any, redis: Redis) -> None:
    receiver.status = lambda _: 503
    sub_id = await subscribe(client, receiver.url())
    await client.create(
        {"id": "urn:ngsi-ld:Vehicle:1", "type": "Vehicle", "speed": {"type": "Property", "value": 1}}
    )
    state = await poll_until(
        lambda: _failed(client, sub_id), "the notification to be dead-lettered", timeout=10
    )
    assert state["timesFailed"] == 3 and state["timesSent"] == 0 and "lastFailure" in state
    assert receiver.arrived == 3  # BROKER_NOTIFY_MAX_ATTEMPTS
    ids = {r.body["id"] for r in receiver.requests}
    assert len(ids) == 1  # every retry carries the same notification id
    dead = await redis.xrange(f"{{t:{client.tenant}}}:deadletters")
    assert len(dead) == 1 and dead[0][1][b"sub"].decode() == sub_id
    assert b"503" in dead[0][1][b"reason"]
    assert await redis.xlen(f"{{t:{client.tenant}}}:notify") == 0  # nothing left pending

    receiver.status = lambda _: 200  # the endpoint recovers: the next notification succeeds
    await patch_speed(client, 1, 2)
    state = await poll_until(lambda: _sent(client, sub_id, 1), "a success after recovery", timeout=10)
    assert state["status"] == "ok"


async def _failed(client: Any, sub_id: str) -> dict[str, Any] | None:
    state = await status(client, sub_id)
    return state if state["status"] == "failed" else None


async def test_deleted_subscription_stops_notifying(client: Any, receiver: Any) -> None:
    sub_id = await subscribe(
        client, receiver.url(), notificationTrigger=["entityDeleted", "attributeUpdated"]
    )
    await client.create(
        {"id": "urn:ngsi-ld:Vehicle:1", "type": "Vehicle", "speed": {"type": "Property", "value": 1}}
    )
    await client.call("DeleteEntity", pb.DeleteEntityRequest(id="urn:ngsi-ld:Vehicle:1"))
    await poll_until(lambda: len(receiver.requests) == 1 or None, "the deletion notification", timeout=10)
    [entity] = receiver.requests[0].body["data"]
    assert entity["id"] == "urn:ngsi-ld:Vehicle:1" and entity["type"] == "Vehicle" and "deletedAt" in entity
    await client.call("DeleteSubscription", pb.ResourceRequest(id=sub_id))
    await client.create(
        {"id": "urn:ngsi-ld:Vehicle:2", "type": "Vehicle", "speed": {"type": "Property", "value": 1}}
    )
    await patch_speed(client, 2, 5)
    marker = await subscribe(client, receiver.url("/marker"))
    await patch_speed(client, 2, 6)
    await poll_until(
        lambda: any(r.path == "/marker" for r in receiver.requests) or None, "the marker", timeout=10
    )
    assert [r.path for r in receiver.requests] == ["/notify", "/marker"]
    assert marker


async def test_notifications_stay_within_their_tenant(client: Any, receiver: Any) -> None:
    other = client.as_tenant(client.tenant + "-b")
    await subscribe(client, receiver.url("/a"))
    await subscribe(other, receiver.url("/b"))
    await other.create(
        {"id": "urn:ngsi-ld:Vehicle:1", "type": "Vehicle", "speed": {"type": "Property", "value": 1}}
    )
    await poll_until(lambda: len(receiver.requests) >= 1 or None, "tenant b's notification", timeout=10)
    await client.create(
        {"id": "urn:ngsi-ld:Vehicle:2", "type": "Vehicle", "speed": {"type": "Property", "value": 2}}
    )
    await poll_until(lambda: len(receiver.requests) >= 2 or None, "tenant a's notification", timeout=10)
    await asyncio.sleep(0.3)
    seen = sorted((r.path, r.headers["ngsild-tenant"], r.body["data"][0]["id"]) for r in receiver.requests)
    assert seen == [
        ("/a", client.tenant, "urn:ngsi-ld:Vehicle:2"),
        ("/b", other.tenant, "urn:ngsi-ld:Vehicle:1"),
    ]
