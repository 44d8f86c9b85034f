"""Subscription CRUD over gRPC against a real broker and Redis: validation, paging, PATCH, delete."""

from __future__ import annotations

from typing import Any

import grpc
import orjson
import pytest
from cityos.broker.v1 import broker_pb2 as pb
from cityos_runtime.problems import problem_from_rpc_error

pytestmark = pytest.mark.integration


def request(doc: dict[str, Any] | None = None, **fields: Any) -> pb.ResourceRequest:
    body = orjson.dumps(doc) if doc is not None else b""
    return pb.ResourceRequest(body=body, ld=pb.LdRequest(content_type="application/json"), **fields)


def subscription(**members: Any) -> dict[str, Any]:
    doc: dict[str, Any] = {
        "type": "Subscription",
        "entities": [{"type": "Vehicle"}],
        "notification": {"endpoint": {"uri": "http://127.0.0.1:9/notify"}},
    }
    doc.update(members)
    return doc


async def retrieve(client: Any, sub_id: str, **render: Any) -> dict[str, Any]:
    reply = await client.call(
        "RetrieveSubscription", pb.ResourceRequest(id=sub_id, render=pb.Render(**render))
    )
    return dict(orjson.loads(reply.document.body))


async def test_create_retrieve_query_update_delete(client: Any) -> None:
    created = await client.call(
        "CreateSubscription",
        request(
            subscription(watchedAttributes=["speed"], q="speed>50", notificationTrigger=["attributeUpdated"])
        ),
    )
    sub_id = created.id
    assert sub_id.startswith("urn:ngsi-ld:Subscription:")
    doc = await retrieve(client, sub_id)
    assert doc["entities"] == [{"type": "Vehicle"}]
    assert doc["watchedAttributes"] == ["speed"]
    assert doc["q"] == "speed>50"
    assert doc["status"] == "active" and doc["isActive"] is True
    notification = doc["notification"]
    assert notification["format"] == "normalized"
    assert notification["endpoint"] == {"uri": "http://127.0.0.1:9/notify", "accept": "application/json"}
    assert (notification["timesSent"], notification["timesFailed"], notification["status"]) == (0, 0, "ok")

    await client.call(
        "UpdateSubscription",
        request(
            {"isActive": False, "notification": {"format": "keyValues", "attributes": ["speed"]}}, id=sub_id
        ),
    )
    doc = await retrieve(client, sub_id)
    assert doc["status"] == "paused"
    assert doc["notification"]["format"] == "keyValues"
    assert doc["notification"]["attributes"] == ["speed"]
    assert doc["notification"]["endpoint"]["uri"] == "http://127.0.0.1:9/notify"  # untouched members stay
    await client.call("UpdateSubscription", request({"q": None}, id=sub_id))
    assert "q" not in await retrieve(client, sub_id)

    reply = await client.call("QuerySubscriptions", pb.ResourceRequest(count=True))
    listed = orjson.loads(reply.document.body)
    assert [s["id"] for s in listed] == [sub_id] and reply.count == 1

    await client.call("DeleteSubscription", pb.ResourceRequest(id=sub_id))
    gone = await client.problem("RetrieveSubscription", pb.ResourceRequest(id=sub_id))
    assert gone.status == 404 and gone.kind == "ResourceNotFound"
    again = await client.problem("DeleteSubscription", pb.ResourceRequest(id=sub_id))
    assert again.status == 404


async def test_given_id_conflicts_and_paging(client: Any) -> None:
    ids = [f"urn:ngsi-ld:Subscription:s{n}" for n in range(5)]
    for sub_id in ids:
        await client.call("CreateSubscription", request(subscription(id=sub_id)))
    taken = await client.problem("CreateSubscription", request(subscription(id=ids[0])))
    assert taken.status == 409 and taken.kind == "AlreadyExists"
    reply = await client.call("QuerySubscriptions", pb.ResourceRequest(limit=2, offset=1, count=True))
    assert [s["id"] for s in orjson.loads(reply.document.body)] == ids[1:3]
    assert reply.count == 5


@pytest.mark.parametrize(
    ("members", "fragment"),
    [
        ({"type": "Registration"}, "type"),
        ({"entities": []}, "entities"),
        ({"entities": [{"id": "urn:x:1"}]}, "needs a type"),
        ({"entities": [{"type": "Vehicle", "idPattern": "("}]}, "idPattern"),
        ({"q": "speed>>"}, ""),
        ({"geoQ": {"georel": "near;maxDistance==10", "geometry": "Point", "coordinates": [999, 0]}}, ""),
        ({"scopeQ": "no-slash"}, ""),
        ({"notification": {"endpoint": {"uri": "ftp://x/y"}}}, "endpoint.uri"),
        ({"notification": {"endpoint": {"uri": "mqtt://127.0.0.1:1883"}}}, "topic"),
        ({"notification": {"format": "tabular", "endpoint": {"uri": "http://a.example/"}}}, "format"),
        ({"notification": {"endpoint": {"uri": "http://a.example/", "accept": "text/csv"}}}, "accept"),
        ({"throttling": -1}, "throttling"),
        ({"timeInterval": 10, "watchedAttributes": ["speed"]}, "timeInterval"),
        ({"timeInterval": 10, "throttling": 5}, "timeInterval"),
        ({"expiresAt": "tomorrow"}, "expiresAt"),
        ({"notificationTrigger": ["whenever"]}, "notificationTrigger"),
        ({"colour": "blue"}, "colour"),
        (
            {
                "notification": {
                    "endpoint": {
                        "uri": "mqtt://h.example/t",
                        "notifierInfo": [{"key": "MQTT-QoS", "value": "7"}],
                    }
                }
            },
            "MQTT-QoS",
        ),
    ],
)
async def test_invalid_subscriptions_are_400(client: Any, members: dict[str, Any], fragment: str) -> None:
    problem = await client.problem("CreateSubscription", request(subscription(**members)))
    assert problem.status == 400 and problem.kind == "BadRequestData"
    assert fragment in problem.detail


async def test_private_endpoint_refused_without_the_setting(
    redis_url: str, start_broker: Any, unique_tenant: str
) -> None:
    async with start_broker(redis_url, BROKER_NOTIFIER="false") as (_, stub):
        with pytest.raises(grpc.aio.AioRpcError) as raised:
            await stub.CreateSubscription(
                request(subscription()), metadata=(("ngsild-tenant", unique_tenant),)
            )
    problem = problem_from_rpc_error(raised.value)
    assert problem.status == 400 and problem.kind == "BadRequestData"
    assert "notification endpoint refused" in problem.detail


async def test_terms_follow_the_subscription_context(client: Any) -> None:
    context = {
        "@context": {"speed": "https://example.org/vocab#velocity", "Vehicle": "https://example.org/Car"}
    }
    body = {**subscription(watchedAttributes=["speed"]), **context}
    reply = await client.call(
        "CreateSubscription",
        pb.ResourceRequest(body=orjson.dumps(body), ld=pb.LdRequest(content_type="application/ld+json")),
    )
    core = await retrieve(client, reply.id)  # read with the core context: full IRIs
    assert core["watchedAttributes"] == ["https://example.org/vocab#velocity"]
    assert core["entities"] == [{"type": "https://example.org/Car"}]
    assert core["jsonldContext"] == context["@context"]
