"""Temporal integration fixtures: a broker with S3 configured, and a client for the temporal RPCs."""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import Any

import grpc
import orjson
import pytest
from cityos.broker.v1 import broker_pb2 as pb
from cityos_runtime.problems import ProblemError, problem_from_rpc_error


class TemporalClient:
    """Calls the broker's entity and temporal RPCs as one tenant, JSON in and out."""

    def __init__(self, stub: Any, tenant: str) -> None:
        self.stub = stub
        self.tenant = tenant

    async def call(self, rpc: str, request: Any) -> Any:
        return await getattr(self.stub, rpc)(request, metadata=(("ngsild-tenant", self.tenant),))

    async def problem(self, rpc: str, request: Any) -> ProblemError:
        try:
            await self.call(rpc, request)
        except grpc.aio.AioRpcError as error:
            return problem_from_rpc_error(error)
        raise AssertionError(f"{rpc} unexpectedly succeeded")

    async def create_entity(self, entity: dict[str, Any]) -> None:
        await self.call("CreateEntity", pb.CreateEntityRequest(entity=orjson.dumps(entity)))

    async def update(self, entity_id: str, attrs: dict[str, Any]) -> None:
        await self.call("UpdateAttributes", pb.AttributesRequest(id=entity_id, fragment=orjson.dumps(attrs)))

    async def create_temporal(self, doc: dict[str, Any]) -> str:
        response = await self.call("CreateTemporalEntity", pb.ResourceRequest(body=orjson.dumps(doc)))
        return str(response.id)

    async def temporal(self, entity_id: str, **params: str) -> tuple[dict[str, Any], str]:
        """The temporal entity and the Content-Range ("" when complete)."""
        response = await self.call("RetrieveTemporalEntity", pb.ResourceRequest(id=entity_id, params=params))
        return dict(orjson.loads(response.document.body)), str(response.content_range)

    async def query_temporal(self, query: dict[str, Any], **params: str) -> tuple[list[dict[str, Any]], int]:
        request = pb.ResourceRequest(query=pb.EntityQuery(**query), params=params, count=True)
        response = await self.call("QueryTemporalEntities", request)
        return list(orjson.loads(response.document.body)), int(response.count)


@pytest.fixture
async def temporal_broker(
    start_broker: Any, redis_env: dict[str, str], s3_settings: Any
) -> AsyncIterator[Any]:
    """The stub of a broker with history recording and the S3 archive configured."""
    env = {**redis_env, **s3_settings.as_env(), "BROKER_HISTORY_CLAIM_IDLE_MS": "500"}
    async with start_broker(redis_env["REDIS_URL"], **env) as (_, stub):
        yield stub


@pytest.fixture
def temporal_client(temporal_broker: Any, unique_tenant: str) -> TemporalClient:
    return TemporalClient(temporal_broker, unique_tenant)
