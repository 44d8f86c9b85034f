"""`cityos-dev run --broker-replicas 2` / `--broker-workers`: several broker processes behind one gateway."""

from __future__ import annotations

import asyncio
from pathlib import Path

import grpc
import httpx
import pytest
from cityos_devtools.launcher import LaunchedStack, StackStartError
from cityos_devtools.polling import poll_until
from grpc_health.v1 import health_pb2, health_pb2_grpc

API = "/ngsi-ld/v1"
TENANT = {"NGSILD-Tenant": "replicas"}


async def _serving(address: str) -> bool:
    async with grpc.aio.insecure_channel(address) as channel:
        reply = await health_pb2_grpc.HealthStub(channel).Check(health_pb2.HealthCheckRequest(), timeout=5)
    return reply.status == health_pb2.HealthCheckResponse.SERVING


def test_two_brokers_serve_behind_one_gateway(tmp_path: Path) -> None:
    try:
        launched = LaunchedStack(tmp_path / "data", seed=False, broker_replicas=2).start()
    except StackStartError as exc:
        pytest.fail(f"cityos-dev run --broker-replicas 2 did not start:\n{exc}", pytrace=False)
    try:
        addresses = launched.ready["broker_address"].split(",")
        assert len(set(addresses)) == 2
        assert all(asyncio.run(_serving(address)) for address in addresses)
        assert (tmp_path / "data" / "logs" / "broker-2.log").exists()
        gauges = [
            {"id": f"urn:ngsi-ld:WaterLevelGauge:r{i}", "type": "WaterLevelGauge", "waterLevel": {"value": i}}
            for i in range(20)
        ]
        with httpx.Client(base_url=launched.gateway_url + API, headers=TENANT, timeout=10.0) as http:
            created = http.post("/entityOperations/upsert", json=gauges)
            assert created.status_code == 201, created.text
            # Calls alternate between the brokers: every one reads what either of them wrote.
            for gauge in gauges * 2:
                read = http.get(f"/entities/{gauge['id']}", headers={"Accept": "application/json"})
                assert read.status_code == 200, read.text
                assert read.json()["waterLevel"]["value"] == gauge["waterLevel"]["value"]
    finally:
        assert launched.interrupt() == 0, launched.diagnostics()


async def test_a_broker_worker_records_history_for_brokers_that_only_serve(tmp_path: Path) -> None:
    try:
        launched = LaunchedStack(tmp_path / "data", seed=False, broker_workers=True).start()
    except StackStartError as exc:
        pytest.fail(f"cityos-dev run --broker-workers did not start:\n{exc}", pytrace=False)
    try:
        assert len(launched.ready["broker_address"].split(",")) == 1, "the worker takes no requests"
        assert (tmp_path / "data" / "logs" / "broker-worker.log").exists()
        gauge = "urn:ngsi-ld:WaterLevelGauge:w1"
        with httpx.Client(base_url=launched.gateway_url + API, headers=TENANT, timeout=10.0) as http:
            body = {"id": gauge, "type": "WaterLevelGauge", "waterLevel": {"type": "Property", "value": 1.0}}
            assert http.post("/entities", json=body).status_code == 201
            update = {"waterLevel": {"type": "Property", "value": 2.0}}
            assert http.patch(f"/entities/{gauge}/attrs", json=update).status_code == 204

            def recorded() -> list[float] | None:
                response = http.get(f"/temporal/entities/{gauge}")
                values = [i["value"] for i in response.json().get("waterLevel", [])]
                return values if response.status_code == 200 and len(values) == 2 else None

            assert await poll_until(recorded, "history recorded by the worker", timeout=15) == [1.0, 2.0]
    finally:
        assert launched.interrupt() == 0, launched.diagnostics()
