"""A broker process started with METRICS_PORT serves its RPC metrics to Prometheus."""

from __future__ import annotations

import os
import sys
import urllib.error
import urllib.request
from pathlib import Path

import grpc
import pytest
from cityos.broker.v1 import broker_pb2, broker_pb2_grpc
from cityos_devtools.polling import poll_until
from cityos_devtools.processes import free_ports, spawn, stop_process, tail
from cityos_runtime.metadata import TENANT

pytestmark = pytest.mark.integration


def _scrape(port: int) -> str | None:
    try:
        with urllib.request.urlopen(f"http://127.0.0.1:{port}/metrics", timeout=2) as response:
            return str(response.read().decode())
    except (urllib.error.URLError, ConnectionError):
        return None


async def test_rpc_duration_is_scraped_from_a_running_broker(
    redis_url: str, unique_tenant: str, tmp_path: Path
) -> None:
    grpc_port, metrics_port = free_ports(2)
    env = {
        **os.environ,
        "REDIS_URL": redis_url,
        "BROKER_GRPC_HOST": "127.0.0.1",
        "BROKER_GRPC_PORT": str(grpc_port),
        "METRICS_PORT": str(metrics_port),
        "BROKER_NOTIFIER": "false",
    }
    log = tmp_path / "broker.log"
    proc = spawn([sys.executable, "-m", "cityos_broker"], log, env=env)
    try:
        await poll_until(lambda: '"event":"listening"' in tail(log), "the broker to listen", timeout=30)
        assert _scrape(metrics_port) is not None
        async with grpc.aio.insecure_channel(f"127.0.0.1:{grpc_port}") as channel:
            stub = broker_pb2_grpc.BrokerStub(channel)
            with pytest.raises(grpc.aio.AioRpcError) as missing:
                await stub.RetrieveEntity(
                    broker_pb2.RetrieveEntityRequest(id="urn:ngsi-ld:Thing:none"),
                    metadata=((TENANT, unique_tenant),),
                    timeout=10,
                )
        assert missing.value.code() in (grpc.StatusCode.NOT_FOUND, grpc.StatusCode.FAILED_PRECONDITION)

        def retrieved() -> str | None:
            body = _scrape(metrics_port) or ""
            lines = [
                line
                for line in body.splitlines()
                if line.startswith("rpc_server_duration_milliseconds_count")
            ]
            return next((line for line in lines if "RetrieveEntity" in line), None)

        line = await poll_until(retrieved, "the RetrieveEntity duration sample", timeout=10)
        assert line.endswith(" 1.0"), line
    except BaseException:
        print(tail(log))
        raise
    finally:
        assert stop_process(proc) == 0, tail(log)
