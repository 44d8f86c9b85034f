"""`python -m cityos_identity` as a user runs it: JSON logs, the listening line, health, SIGTERM drains."""

from __future__ import annotations

import asyncio
import os
import signal
import sys

import grpc
import orjson
import pytest
from grpc_health.v1 import health_pb2, health_pb2_grpc

pytestmark = pytest.mark.integration


async def test_runs_logs_the_port_and_stops_on_sigterm(redis_url: str, unique_tenant: str) -> None:
    env = {
        **os.environ,
        "REDIS_URL": redis_url,
        "IDENTITY_GRPC_HOST": "127.0.0.1",
        "IDENTITY_GRPC_PORT": "0",
        "CITYOS_DEFAULT_TENANT": unique_tenant,
        "LOG_FORMAT": "json",
        "IDENTITY_BOOTSTRAP_ADMIN_PASSWORD": "bootstrap password 123",
        "IDENTITY_KEY_ENCRYPTION_SECRET": "a-test-secret-of-32-characters!!",
    }
    process = await asyncio.create_subprocess_exec(
        sys.executable, "-m", "cityos_identity", env=env, stderr=asyncio.subprocess.PIPE
    )
    assert process.stderr is not None
    lines: list[dict[str, object]] = []
    try:
        port = 0
        async with asyncio.timeout(30):
            while not port:
                raw = await process.stderr.readline()
                assert raw, f"exited early: {lines}"
                line = orjson.loads(raw)
                lines.append(line)
                if line.get("event") == "listening":
                    port = int(line["port"])  # type: ignore[call-overload]
        assert not any("bootstrap password 123" in str(line) for line in lines)
        async with grpc.aio.insecure_channel(f"127.0.0.1:{port}") as channel:
            reply = await health_pb2_grpc.HealthStub(channel).Check(
                health_pb2.HealthCheckRequest(service="cityos.identity.v1.Identity")
            )
            assert reply.status == health_pb2.HealthCheckResponse.SERVING
        process.send_signal(signal.SIGTERM)
        async with asyncio.timeout(20):
            assert await process.wait() == 0
    finally:
        if process.returncode is None:
            process.kill()
            await process.wait()


async def test_bad_configuration_names_the_variable(redis_url: str) -> None:
    env = {**os.environ, "REDIS_URL": redis_url, "IDENTITY_ACCESS_TOKEN_TTL": "soon"}
    process = await asyncio.create_subprocess_exec(
        sys.executable, "-m", "cityos_identity", env=env, stderr=asyncio.subprocess.PIPE
    )
    _, stderr = await process.communicate()
    assert process.returncode == 2 and b"IDENTITY_ACCESS_TOKEN_TTL" in stderr


async def test_encrypted_keys_without_the_secret_refuse_to_start(
    identity: object, redis_url: str, unique_tenant: str
) -> None:
    # The `identity` fixture made sure the current signing key exists, sealed with the test secret.
    env = {
        **os.environ,
        "REDIS_URL": redis_url,
        "IDENTITY_GRPC_PORT": "0",
        "CITYOS_DEFAULT_TENANT": unique_tenant,
    }
    env.pop("IDENTITY_KEY_ENCRYPTION_SECRET", None)
    process = await asyncio.create_subprocess_exec(
        sys.executable, "-m", "cityos_identity", env=env, stderr=asyncio.subprocess.PIPE
    )
    _, stderr = await process.communicate()
    assert process.returncode == 1
    assert b'"event":"keys_unencrypted"' in stderr.replace(b" ", b"")
    assert b"is encrypted but IDENTITY_KEY_ENCRYPTION_SECRET is not set" in stderr
