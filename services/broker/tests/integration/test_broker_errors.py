"""The servicer's error boundary: unexpected failures become a 500 ProblemDetails without internals."""

from __future__ import annotations

import logging
from typing import Any

import grpc
import pytest
from cityos.broker.v1 import broker_pb2 as pb
from cityos.broker.v1 import broker_pb2_grpc
from cityos_broker.config import BrokerSettings
from cityos_broker.server import build_server
from cityos_broker.servicer import SERVICE_NAME
from cityos_devtools.polling import poll_until
from cityos_runtime.problems import problem_from_rpc_error
from cityos_runtime.telemetry import setup_telemetry
from grpc_health.v1 import health_pb2, health_pb2_grpc
from redis.exceptions import ConnectionError as RedisConnectionError

pytestmark = pytest.mark.integration


async def _retrieve_failing_with(
    redis_url: str, monkeypatch: pytest.MonkeyPatch, error: Exception
) -> grpc.aio.AioRpcError:
    """Start a broker whose entity reads raise `error` and return the failed RetrieveEntity call."""
    settings = BrokerSettings.from_env(
        environ={"REDIS_URL": redis_url, "BROKER_GRPC_HOST": "127.0.0.1", "BROKER_GRPC_PORT": "0"}
    )
    server = build_server(settings, setup_telemetry("broker-test"))

    async def broken(*_: Any) -> None:
        raise error

    monkeypatch.setattr(server.store.entities, "get", broken)
    port = await server.start()
    try:
        async with grpc.aio.insecure_channel(f"127.0.0.1:{port}") as channel:
            stub = broker_pb2_grpc.BrokerStub(channel)
            with pytest.raises(grpc.aio.AioRpcError) as caught:
                await stub.RetrieveEntity(
                    pb.RetrieveEntityRequest(id="urn:x:1"), metadata=(("ngsild-tenant", ""),)
                )
    finally:
        await server.stop(grace=1.0)
    return caught.value


async def test_an_unexpected_failure_is_a_500_problem_that_leaks_nothing(
    redis_url: str, monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    with caplog.at_level(logging.ERROR):
        failed = await _retrieve_failing_with(redis_url, monkeypatch, RuntimeError("secret internal state"))
    assert failed.code() == grpc.StatusCode.UNKNOWN
    problem = problem_from_rpc_error(failed)
    assert (problem.kind, problem.status) == ("InternalError", 500)
    assert "secret" not in problem.detail
    assert any("secret internal state" in (r.exc_text or str(r.exc_info)) for r in caplog.records)


async def test_a_redis_outage_is_a_503_the_caller_may_retry(
    redis_url: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    failed = await _retrieve_failing_with(redis_url, monkeypatch, RedisConnectionError("connection refused"))
    assert failed.code() == grpc.StatusCode.UNAVAILABLE
    problem = problem_from_rpc_error(failed)
    assert (problem.kind, problem.status) == ("InternalError", 503)


async def test_health_reports_not_serving_while_redis_does_not_answer(
    redis_url: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    settings = BrokerSettings.from_env(
        environ={"REDIS_URL": redis_url, "BROKER_GRPC_HOST": "127.0.0.1", "BROKER_GRPC_PORT": "0"}
    )
    server = build_server(settings, setup_telemetry("broker-test"))
    server.health_interval = 0.05
    port = await server.start()
    real_ping = server.redis.ping
    try:
        async with grpc.aio.insecure_channel(f"127.0.0.1:{port}") as channel:
            health = health_pb2_grpc.HealthStub(channel)

            async def status() -> int:
                reply = await health.Check(health_pb2.HealthCheckRequest(service=SERVICE_NAME))
                return int(reply.status)

            assert await status() == health_pb2.HealthCheckResponse.SERVING

            async def refused() -> None:
                raise RedisConnectionError("connection refused")

            monkeypatch.setattr(server.redis, "ping", refused)
            down = health_pb2.HealthCheckResponse.NOT_SERVING
            await poll_until(lambda: _is(status, down), "health NOT_SERVING", timeout=5)
            monkeypatch.setattr(server.redis, "ping", real_ping)
            up = health_pb2.HealthCheckResponse.SERVING
            await poll_until(lambda: _is(status, up), "health SERVING again", timeout=5)
    finally:
        await server.stop(grace=1.0)


async def _is(status: Any, wanted: int) -> bool:
    return bool(await status() == wanted)
