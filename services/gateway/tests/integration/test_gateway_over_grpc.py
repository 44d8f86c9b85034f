"""The gateway app against a real grpc.aio fake Broker on 127.0.0.1:0: metadata, problems, deadlines."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from typing import Any

import grpc
import httpx
import pytest
from cityos.broker.v1 import broker_pb2 as pb
from cityos.broker.v1 import broker_pb2_grpc
from cityos_gateway.app import create_app
from cityos_gateway.config import GatewaySettings
from cityos_gateway.health import BrokerReadiness
from cityos_runtime.config import CommonSettings
from cityos_runtime.grpc_client import create_channel
from cityos_runtime.grpc_server import GrpcServer
from cityos_runtime.problems import ProblemError, abort_with_problem
from cityos_runtime.telemetry import setup_telemetry
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter

pytestmark = pytest.mark.integration

BASE = "/ngsi-ld/v1"
TRACE_ID = "0af7651916cd43dd8448eb211c80319c"
TRACEPARENT = f"00-{TRACE_ID}-b7ad6b7169203331-01"


@dataclass
class CannedBroker(broker_pb2_grpc.BrokerServicer):
    """A few Broker RPCs with canned answers; records the metadata each call arrived with."""

    metadata: list[dict[str, str]] = field(default_factory=list)
    entities: dict[str, bytes] = field(default_factory=dict)

    def _record(self, context: grpc.aio.ServicerContext) -> None:  # type: ignore[type-arg]
        self.metadata.append(
            {key: value for key, value in context.invocation_metadata() if isinstance(value, str)}
        )

    async def CreateEntity(self, request: pb.CreateEntityRequest, context: Any) -> pb.CreateEntityResponse:
        self._record(context)
        self.entities["urn:ngsi-ld:Room:1"] = request.entity
        return pb.CreateEntityResponse(id="urn:ngsi-ld:Room:1")

    async def RetrieveEntity(self, request: pb.RetrieveEntityRequest, context: Any) -> pb.Document:
        self._record(context)
        if request.id == "urn:slow":
            await asyncio.sleep(5)
        if request.id not in self.entities:
            await abort_with_problem(context, ProblemError("ResourceNotFound", f"{request.id} not found"))
        return pb.Document(
            body=self.entities[request.id],
            content_type="application/json",
            link_context="https://x/ctx.jsonld",
        )

    async def Batch(self, request: pb.BatchRequest, context: Any) -> pb.BatchResponse:
        self._record(context)
        problem = ProblemError("BadRequestData", "no type").to_json()
        return pb.BatchResponse(
            success=["urn:a"], errors=[pb.BatchEntityError(entity_id="urn:b", problem=problem)]
        )


@dataclass
class Stack:
    broker: CannedBroker
    http: httpx.AsyncClient
    spans: InMemorySpanExporter


@pytest.fixture
async def stack() -> AsyncIterator[Stack]:
    spans = InMemorySpanExporter()
    telemetry = setup_telemetry("gateway-test", span_exporter=spans)
    broker = CannedBroker()
    server = GrpcServer("broker", "127.0.0.1", 0, telemetry)
    server.add(
        lambda s: broker_pb2_grpc.add_BrokerServicer_to_server(broker, s),
        [pb.DESCRIPTOR.services_by_name["Broker"].full_name],
    )
    port = await server.start()
    channel = create_channel(f"127.0.0.1:{port}", telemetry)
    settings = GatewaySettings(common=CommonSettings("gateway", default_tenant="pref"), request_timeout=0.5)
    app = create_app(
        settings,
        broker_pb2_grpc.BrokerStub(channel),  # type: ignore[arg-type]
        readiness=BrokerReadiness(channel),
        telemetry=telemetry,
    )
    try:
        async with httpx.AsyncClient(
            transport=httpx.ASGITransport(app=app), base_url="http://gateway"
        ) as http:
            yield Stack(broker, http, spans)
    finally:
        await channel.close()
        await server.stop(grace=0)
        telemetry.shutdown()


async def test_metadata_reaches_the_broker(stack: Stack) -> None:
    headers = {
        "content-type": "application/json",
        "NGSILD-Tenant": "Sapporo",
        "x-request-id": "req-42",
        "traceparent": TRACEPARENT,
    }
    body = b'{"id":"urn:ngsi-ld:Room:1","type":"Room"}'
    response = await stack.http.post(f"{BASE}/entities", content=body, headers=headers)
    assert response.status_code == 201
    assert response.headers["location"] == f"{BASE}/entities/urn:ngsi-ld:Room:1"
    (metadata,) = stack.broker.metadata
    assert metadata["ngsild-tenant"] == "sapporo"
    assert metadata["x-request-id"] == "req-42"
    assert metadata["traceparent"].split("-")[1] == TRACE_ID
    assert stack.broker.entities["urn:ngsi-ld:Room:1"] == body


async def test_default_tenant_and_rendered_document(stack: Stack) -> None:
    stack.broker.entities["urn:ngsi-ld:Room:1"] = b'{"id":"urn:ngsi-ld:Room:1"}'
    response = await stack.http.get(f"{BASE}/entities/urn:ngsi-ld:Room:1")
    assert response.status_code == 200
    assert response.content == b'{"id":"urn:ngsi-ld:Room:1"}'
    assert response.headers["link"].startswith("<https://x/ctx.jsonld>")
    assert stack.broker.metadata[-1]["ngsild-tenant"] == "pref"


async def test_broker_problem_arrives_as_problem_details(stack: Stack) -> None:
    response = await stack.http.get(f"{BASE}/entities/urn:missing")
    assert response.status_code == 404
    assert response.json()["detail"] == "urn:missing not found"
    assert response.json()["type"] == "https://uri.etsi.org/ngsi-ld/errors/ResourceNotFound"


async def test_batch_errors_are_207(stack: Stack) -> None:
    response = await stack.http.post(
        f"{BASE}/entityOperations/upsert", content=b"[{}]", headers={"content-type": "application/json"}
    )
    assert response.status_code == 207
    body = response.json()
    assert body["success"] == ["urn:a"]
    assert body["errors"][0]["entityId"] == "urn:b"
    assert body["errors"][0]["error"]["detail"] == "no type"


async def test_deadline_gives_504(stack: Stack) -> None:
    response = await stack.http.get(f"{BASE}/entities/urn:slow")
    assert response.status_code == 504


async def test_readyz_reads_broker_health(stack: Stack) -> None:
    response = await stack.http.get("/readyz")
    assert response.status_code == 200
