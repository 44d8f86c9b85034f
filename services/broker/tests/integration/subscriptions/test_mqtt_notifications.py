"""MQTT notifications (mqtt:// endpoints) delivered to a real embedded MQTT broker (amqtt) on a free port."""

from __future__ import annotations

import asyncio
import socket
from collections.abc import AsyncIterator
from typing import Any

import aiomqtt
import orjson
import pytest
from amqtt.broker import Broker as MqttBroker
from cityos.broker.v1 import broker_pb2 as pb

pytestmark = pytest.mark.integration


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@pytest.fixture
async def mqtt_port() -> AsyncIterator[int]:
    """An embedded amqtt broker accepting anonymous clients on 127.0.0.1."""
    port = _free_port()
    broker = MqttBroker(
        {
            "listeners": {"default": {"type": "tcp", "bind": f"127.0.0.1:{port}"}},
            "plugins": {"amqtt.plugins.authentication.AnonymousAuthPlugin": {"allow_anonymous": True}},
        }
    )
    await broker.start()
    try:
        yield port
    finally:
        await broker.shutdown()


async def test_mqtt_endpoint_receives_metadata_and_body(client: Any, mqtt_port: int) -> None:
    async with aiomqtt.Client("127.0.0.1", mqtt_port) as listener:
        await listener.subscribe("city/vehicles/#", qos=1)
        doc = {
            "type": "Subscription",
            "entities": [{"type": "Vehicle"}],
            "notification": {
                "format": "keyValues",
                "endpoint": {
                    "uri": f"mqtt://127.0.0.1:{mqtt_port}/city/vehicles/speed",
                    "notifierInfo": [{"key": "MQTT-QoS", "value": "1"}],
                    "receiverInfo": [{"key": "X-City", "value": "otaru"}],
                },
            },
        }
        request = pb.ResourceRequest(body=orjson.dumps(doc), ld=pb.LdRequest(content_type="application/json"))
        sub_id = (await client.call("CreateSubscription", request)).id
        await client.create(
            {"id": "urn:ngsi-ld:Vehicle:9", "type": "Vehicle", "speed": {"type": "Property", "value": 42}}
        )
        message = await asyncio.wait_for(anext(aiter(listener.messages)), timeout=10)
    assert str(message.topic) == "city/vehicles/speed"
    assert message.qos == 1
    payload = orjson.loads(message.payload)  # type: ignore[arg-type]
    assert payload["metadata"]["X-City"] == "otaru"
    assert payload["metadata"]["Content-Type"] == "application/json"
    body = payload["body"]
    assert body["subscriptionId"] == sub_id
    assert body["data"] == [{"id": "urn:ngsi-ld:Vehicle:9", "type": "Vehicle", "speed": 42}]
