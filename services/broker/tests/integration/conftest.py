"""Integration fixtures: a real broker (grpc.aio on 127.0.0.1:0) over a real Redis / Valkey.

`redis_url` and `unique_tenant` come from cityos_devtools.pytest_plugin (root conftest.py).
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any

import grpc
import orjson
import pytest
from cityos.broker.v1 import broker_pb2 as pb
from cityos.broker.v1 import broker_pb2_grpc
from cityos_broker.config import BrokerSettings
from cityos_broker.server import build_server
from cityos_runtime.problems import ProblemError, problem_from_rpc_error
from cityos_runtime.redis_connect import RedisClient, RedisSettings, connect_redis
from cityos_runtime.telemetry import setup_telemetry


@asynccontextmanager
async def running_broker(redis_url: str, **env: str) -> AsyncIterator[tuple[str, Any]]:
    """Start a broker on a free port; yields (address, stub) and stops it gracefully."""
    settings = BrokerSettings.from_env(
        environ={"REDIS_URL": redis_url, "BROKER_GRPC_HOST": "127.0.0.1", "BROKER_GRPC_PORT": "0", **env}
    )
    server = build_server(settings, setup_telemetry("broker-test"))
    port = await server.start()
    address = f"127.0.0.1:{port}"
    try:
        async with grpc.aio.insecure_channel(address) as channel:
            yield address, broker_pb2_grpc.BrokerStub(channel)
    finally:
        await server.stop(grace=1.0)


class BrokerClient:
    """Calls the broker as one tenant, with JSON in and out."""

    def __init__(self, stub: Any, tenant: str) -> None:
        self.stub = stub
        self.tenant = tenant

    @property
    def metadata(self) -> tuple[tuple[str, str], ...]:
        return (("ngsild-tenant", self.tenant),)

    def as_tenant(self, tenant: str) -> BrokerClient:
        return BrokerClient(self.stub, tenant)

    async def call(self, rpc: str, request: Any) -> Any:
        return await getattr(self.stub, rpc)(request, metadata=self.metadata)

    async def problem(self, rpc: str, request: Any) -> ProblemError:
        """The ProblemDetails of a call that must fail."""
        try:
            await self.call(rpc, request)
        except grpc.aio.AioRpcError as error:
            return problem_from_rpc_error(error)
        raise AssertionError(f"{rpc} unexpectedly succeeded")

    async def create(self, entity: dict[str, Any]) -> str:
        response = await self.call("CreateEntity", pb.CreateEntityRequest(entity=orjson.dumps(entity)))
        return str(response.id)

    async def get(self, entity_id: str, **render: Any) -> dict[str, Any]:
        document = await self.call(
            "RetrieveEntity", pb.RetrieveEntityRequest(id=entity_id, render=pb.Render(**render))
        )
        return dict(orjson.loads(document.body))

    async def query(
        self, *, limit: int | None = None, offset: int = 0, count: bool = False, **query: Any
    ) -> tuple[list[dict[str, Any]], int]:
        geo = query.pop("geo", None)
        request = pb.QueryEntitiesRequest(
            query=pb.EntityQuery(geo=pb.GeoQuery(**geo) if geo else None, **query),
            offset=offset,
            count=count,
            limit=limit or 0,
            limit_set=limit is not None,
        )
        response = await self.call("QueryEntities", request)
        return list(orjson.loads(response.document.body)), int(response.count)

    async def batch(self, operation: int, items: list[Any], **options: Any) -> Any:
        return await self.call(
            "Batch", pb.BatchRequest(operation=operation, entities=orjson.dumps(items), **options)
        )

    async def document(self, rpc: str, request: Any) -> Any:
        response = await self.call(rpc, request)
        return orjson.loads(response.body)


@pytest.fixture
async def broker(redis_env: dict[str, str]) -> AsyncIterator[tuple[str, Any]]:
    """(address, stub) of a broker started for this test (on each Redis mode of a `redis_modes` marker)."""
    async with running_broker(redis_env["REDIS_URL"], **redis_env) as started:
        yield started


@pytest.fixture
def client(broker: tuple[str, Any], unique_tenant: str) -> BrokerClient:
    """A client bound to this test's fresh tenant."""
    return BrokerClient(broker[1], unique_tenant)


@pytest.fixture
def start_broker() -> Any:
    """`async with start_broker(redis_url, **env) as (address, stub)` for tests that restart brokers."""
    return running_broker


@pytest.fixture
async def redis(redis_env: dict[str, str]) -> AsyncIterator[RedisClient]:
    """A raw Redis client for checking what the broker stored (the same Redis as the `broker` fixture's)."""
    client = connect_redis(RedisSettings.from_env(environ=redis_env))
    try:
        yield client
    finally:
        await client.aclose()
