"""A notification's span links to the trace of the write that caused it (traceparent in the change event)."""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import Any

import grpc
import orjson
import pytest
from cityos.broker.v1 import broker_pb2 as pb
from cityos.broker.v1 import broker_pb2_grpc
from cityos_broker.config import BrokerSettings
from cityos_broker.server import build_server
from cityos_broker.store import Store
from cityos_devtools.polling import poll_until
from cityos_runtime.telemetry import setup_telemetry
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter
from opentelemetry.trace import SpanKind

pytestmark = pytest.mark.integration

WRITER_TRACE = "4bf92f3577b34da6a3ce929d0e0e4736"


@pytest.fixture
async def traced(
    redis_url: str, notify_env: dict[str, str]
) -> AsyncIterator[tuple[Any, InMemorySpanExporter]]:
    """A broker (with its notifier) whose spans go to an in-memory exporter; yields (stub, spans)."""
    spans = InMemorySpanExporter()
    environ = {"REDIS_URL": redis_url, "BROKER_GRPC_HOST": "127.0.0.1", "BROKER_GRPC_PORT": "0", **notify_env}
    server = build_server(
        BrokerSettings.from_env(environ=environ), setup_telemetry("broker-test", span_exporter=spans)
    )
    port = await server.start()
    try:
        async with grpc.aio.insecure_channel(f"127.0.0.1:{port}") as channel:
            yield broker_pb2_grpc.BrokerStub(channel), spans
    finally:
        await server.stop(grace=1.0)


async def test_notify_span_links_to_the_write_span(
    traced: tuple[Any, InMemorySpanExporter], receiver: Any, unique_tenant: str
) -> None:
    stub, spans = traced
    metadata = (("ngsild-tenant", unique_tenant),)
    subscription = {
        "type": "Subscription",
        "entities": [{"type": "Vehicle"}],
        "notification": {"endpoint": {"uri": receiver.url()}},
    }
    await stub.CreateSubscription(
        pb.ResourceRequest(body=orjson.dumps(subscription), ld=pb.LdRequest(content_type="application/json")),
        metadata=metadata,
    )
    vehicle = {"id": "urn:ngsi-ld:Vehicle:1", "type": "Vehicle", "speed": {"type": "Property", "value": 1}}
    writer = f"00-{WRITER_TRACE}-00f067aa0ba902b7-01"  # the caller's (e.g. the gateway's) span
    await stub.CreateEntity(
        pb.CreateEntityRequest(entity=orjson.dumps(vehicle)), metadata=(*metadata, ("traceparent", writer))
    )
    await poll_until(lambda: len(receiver.requests) == 1 or None, "the notification", timeout=10)

    def finished(name: str) -> list[Any]:
        return [s for s in spans.get_finished_spans() if s.name == name]

    [notify] = await poll_until(lambda: finished("notify") or None, "the notify span", timeout=5)
    [write] = [s for s in spans.get_finished_spans() if s.name.endswith("/CreateEntity")]
    assert write.kind is SpanKind.SERVER and format(write.context.trace_id, "032x") == WRITER_TRACE
    [link] = notify.links
    assert (link.context.trace_id, link.context.span_id) == (write.context.trace_id, write.context.span_id)
    # The endpoint gets the notify span's own trace context.
    sent = receiver.requests[0].headers["traceparent"]
    assert sent.split("-")[1] == format(notify.context.trace_id, "032x")


async def test_writes_without_a_recorded_span_carry_no_traceparent(client: Any, redis: Any) -> None:
    """Outside a span (e.g. a background job) the change event simply has no `tp` field."""
    store = Store.over(redis)
    await store.entities.create(
        client.tenant, {"id": "urn:ngsi-ld:Vehicle:9", "type": ["Vehicle"], "attrs": {}}
    )
    [(_, fields)] = await redis.xrange(f"{{t:{client.tenant}}}:changes")
    assert b"tp" not in fields and fields[b"op"] == b"create"
