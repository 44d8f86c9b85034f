"""The init Job's script against a real gateway process, identity service and broker (port 0, real Valkey)."""

from __future__ import annotations

import asyncio
import importlib.util
import json
import os
import sys
import time
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path
from types import ModuleType
from typing import Any
from urllib.parse import urlsplit, urlunsplit

import grpc
import pytest
from cityos.broker.v1 import broker_pb2, broker_pb2_grpc
from cityos.identity.v1 import identity_pb2 as ipb
from cityos.identity.v1 import identity_pb2_grpc
from cityos_broker.config import BrokerSettings
from cityos_broker.server import build_server as build_broker
from cityos_identity.browser import (
    Browser,
    admin_token,
    authorize,
    bearer,
    body_json,
    pkce_pair,
    token_request,
)
from cityos_identity.config import IdentitySettings
from cityos_identity.passwords import ScryptParams
from cityos_identity.server import build_server as build_identity
from cityos_runtime.telemetry import setup_telemetry

pytestmark = pytest.mark.integration

ISSUER = "https://cityos.pref.example.jp"
# The platform admin `admin` is platform-wide: use the password the identity tests use on a shared Valkey.
BOOTSTRAP_PASSWORD = "admin-password-for-tests"
CHART_FILES = Path(__file__).resolve().parents[2] / "charts" / "cityos" / "files"


@pytest.fixture(scope="module")
def init_script(chart_dir: Path) -> ModuleType:
    spec = importlib.util.spec_from_file_location(
        "cityos_init_tenant_it", chart_dir / "files" / "init_tenant.py"
    )
    assert spec and spec.loader
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module
    spec.loader.exec_module(module)
    return module


@asynccontextmanager
async def _gateway(broker: str, identity: str, default_tenant: str) -> AsyncIterator[str]:
    """`python -m cityos_gateway` in oidc mode on a free port, as the image runs it; yields its URL."""
    env = {
        **os.environ,
        "GATEWAY_HOST": "127.0.0.1",
        "GATEWAY_PORT": "0",
        "GATEWAY_AUTH_MODE": "oidc",
        "BROKER_ADDRESS": broker,
        "IDENTITY_ADDRESS": identity,
        "IDENTITY_ISSUER": ISSUER,
        "CITYOS_DEFAULT_TENANT": default_tenant,
        "LOG_LEVEL": "INFO",
        "LOG_FORMAT": "json",
    }
    env.pop("OTEL_EXPORTER_OTLP_ENDPOINT", None)
    process = await asyncio.create_subprocess_exec(
        sys.executable, "-m", "cityos_gateway", env=env, stderr=asyncio.subprocess.PIPE
    )
    assert process.stderr is not None
    lines: list[str] = []

    async def listening() -> str:
        assert process.stderr is not None
        while line := (await process.stderr.readline()).decode():
            lines.append(line)
            if line.startswith("{") and json.loads(line).get("event") == "listening":
                return str(json.loads(line)["url"])
        raise AssertionError("the gateway exited before listening:\n" + "".join(lines[-20:]))

    async def drain() -> None:  # keep reading, so the gateway never blocks on a full pipe
        assert process.stderr is not None
        while await process.stderr.readline():
            pass

    try:
        url = await asyncio.wait_for(listening(), timeout=60)
        drainer = asyncio.create_task(drain())
        try:
            yield url
        finally:
            process.terminate()
            await asyncio.wait_for(process.wait(), timeout=30)
            await drainer
    finally:
        if process.returncode is None:
            process.kill()
            await process.wait()


def _own_database(redis_url: str) -> str:
    """This module's own logical Redis database. Identity keeps platform-wide records (signing keys, the
    bootstrap admin): other tests' identity services, with other secrets, must not share them."""
    return urlunsplit(urlsplit(redis_url)._replace(path="/12"))  # 9 is the temporal recorder tests'


@asynccontextmanager
async def _services(redis_url: str, default_tenant: str) -> AsyncIterator[tuple[str, str]]:
    """A broker and an identity service on free ports; yields their addresses."""
    redis_url = _own_database(redis_url)
    broker = build_broker(
        BrokerSettings.from_env(
            environ={
                "REDIS_URL": redis_url,
                "BROKER_GRPC_HOST": "127.0.0.1",
                "BROKER_GRPC_PORT": "0",
                "BROKER_AUTO_CREATE_TENANTS": "false",
                "BROKER_NOTIFIER": "false",
                "BROKER_HISTORY_ENABLED": "false",
            }
        ),
        setup_telemetry("broker-test"),
    )
    identity = build_identity(
        IdentitySettings.from_env(
            environ={
                "REDIS_URL": redis_url,
                "IDENTITY_GRPC_HOST": "127.0.0.1",
                "IDENTITY_GRPC_PORT": "0",
                "IDENTITY_ISSUER": ISSUER,
                "IDENTITY_BOOTSTRAP_ADMIN_PASSWORD": BOOTSTRAP_PASSWORD,
                "CITYOS_DEFAULT_TENANT": default_tenant,
            }
        ),
        setup_telemetry("identity-test"),
        scrypt=ScryptParams(n=2**10, r=8, p=1),
    )
    broker_port = await broker.start()
    try:
        identity_port = await identity.start()
        try:
            yield f"127.0.0.1:{broker_port}", f"127.0.0.1:{identity_port}"
        finally:
            await identity.stop(grace=1.0)
    finally:
        await broker.stop(grace=1.0)


def _job_env(gateway_url: str, identity_address: str, tenant: str, default_tenant: str) -> dict[str, str]:
    """The Job's environment with identity, as the chart renders it (without an administrator)."""
    return {
        "CITYOS_INIT_GATEWAY_URL": gateway_url,
        "CITYOS_INIT_IDENTITY_ADDRESS": identity_address,
        "CITYOS_INIT_TENANT": tenant,
        "CITYOS_INIT_WAIT_SECONDS": "30",
        "IDENTITY_ISSUER": ISSUER,
        "CITYOS_DEFAULT_TENANT": default_tenant,
        "IDENTITY_BOOTSTRAP_ADMIN_PASSWORD": BOOTSTRAP_PASSWORD,
    }


async def test_job_creates_tenant_and_admin_then_reruns_harmlessly(
    init_script: ModuleType, redis_url: str, unique_tenant: str
) -> None:
    prefecture = f"{unique_tenant}-pref"[:60]
    username = f"{prefecture}-admin"[:60]
    async with (
        _services(redis_url, unique_tenant) as (broker_address, identity_address),
        _gateway(broker_address, identity_address, unique_tenant) as gateway_url,
    ):
        job_env = {
            **_job_env(gateway_url, identity_address, prefecture, unique_tenant),
            "CITYOS_INIT_ADMIN_USERNAME": username,
            "CITYOS_INIT_ADMIN_EMAIL": "admin@pref.example.jp",
            "CITYOS_INIT_ADMIN_PASSWORD": "prefecture-admin-password",
        }
        settings = init_script.InitSettings.from_env(job_env)
        deadline = time.monotonic() + 30
        token = await init_script._admin_token(settings, deadline)
        first = await asyncio.to_thread(init_script.provision, settings, token, deadline)
        assert first == [
            f"tenant {prefecture!r} created",
            f"administrator {username!r} created",
            f"tenant {prefecture!r} answers through the gateway",
        ]
        # Again, as the Job runs it: `python /scripts/init_tenant.py` with its environment.
        script = str(Path(init_script.__file__))
        job = await asyncio.create_subprocess_exec(
            sys.executable, script, env={**os.environ, **job_env}, stdout=asyncio.subprocess.PIPE
        )
        out, _ = await asyncio.wait_for(job.communicate(), timeout=120)
        assert job.returncode == 0, out.decode()
        assert out.decode().splitlines() == [
            f"init: tenant {prefecture!r} existed already (left unchanged)",
            f"init: administrator {username!r} existed already (left unchanged)",
            f"init: tenant {prefecture!r} answers through the gateway",
        ]
        async with grpc.aio.insecure_channel(broker_address) as channel:
            broker: Any = broker_pb2_grpc.BrokerStub(channel)
            found = await broker.GetTenant(broker_pb2.TenantRequest(tenant=prefecture))
            assert found.exists
        async with grpc.aio.insecure_channel(identity_address) as channel:
            identity: Any = identity_pb2_grpc.IdentityStub(channel)
            token = await admin_token(identity, unique_tenant, ISSUER, BOOTSTRAP_PASSWORD)
            tenant = await identity.GetTenant(ipb.GetTenantRequest(name=prefecture), metadata=bearer(token))
            assert (tenant.state, tenant.parent) == ("active", "")
            users = await identity.ListUsers(ipb.ListUsersRequest(tenant=prefecture), metadata=bearer(token))
            (admin,) = [u for u in users.users if u.username == username]
            assert [(m.tenant, list(m.roles)) for m in admin.memberships] == [(prefecture, ["tenant-admin"])]
            assert admin.email == "admin@pref.example.jp"
            # The new administrator can sign in with the password from the Job's Secret.
            assert await admin_token_of(identity, unique_tenant, username, "prefecture-admin-password")


async def admin_token_of(stub: Any, tenant: str, username: str, password: str) -> str:
    """Sign in as any user through the bootstrap console client; returns the access token."""
    browser = Browser(stub)
    verifier, challenge = pkce_pair()
    redirect = f"{ISSUER}/console/callback"
    client = f"{tenant}.console"
    query = await authorize(
        browser, ISSUER, client, redirect, username, password, scope="openid", challenge=challenge
    )
    form = {
        "grant_type": "authorization_code",
        "code": query["code"][0],
        "redirect_uri": redirect,
        "client_id": client,
        "code_verifier": verifier,
    }
    response = await token_request(browser, ISSUER, form)
    assert response.status == 200, response.body
    return str(body_json(response)["access_token"])


async def test_job_without_identity_ensures_the_broker_tenant(redis_url: str, unique_tenant: str) -> None:
    async with _services(redis_url, unique_tenant) as (broker_address, _identity):
        job_env = {"CITYOS_INIT_BROKER_ADDRESS": broker_address, "CITYOS_INIT_TENANT": unique_tenant + "-b"}
        job = await asyncio.create_subprocess_exec(
            sys.executable,
            str(CHART_FILES / "init_tenant.py"),
            env={**os.environ, **job_env},
            stdout=asyncio.subprocess.PIPE,
        )
        out, _ = await asyncio.wait_for(job.communicate(), timeout=120)
        assert job.returncode == 0, out.decode()
        assert out.decode().splitlines()[0] == f"init: broker tenant '{unique_tenant}-b' present"
        async with grpc.aio.insecure_channel(broker_address) as channel:
            broker: Any = broker_pb2_grpc.BrokerStub(channel)
            found = await broker.GetTenant(broker_pb2.TenantRequest(tenant=unique_tenant + "-b"))
            assert found.exists, "EnsureTenant made it although BROKER_AUTO_CREATE_TENANTS=false"


async def test_rerunning_the_job_finishes_a_tenant_the_broker_never_learnt(
    init_script: ModuleType, redis_url: str, unique_tenant: str
) -> None:
    """An earlier run stopped between identity and the broker (broker down): the rerun repairs it."""
    prefecture = f"{unique_tenant}-half"[:60]
    async with (
        _services(redis_url, unique_tenant) as (broker_address, identity_address),
        _gateway(broker_address, identity_address, unique_tenant) as gateway_url,
    ):
        async with grpc.aio.insecure_channel(identity_address) as channel:
            identity: Any = identity_pb2_grpc.IdentityStub(channel)
            token = await admin_token(identity, unique_tenant, ISSUER, BOOTSTRAP_PASSWORD)
            await identity.CreateTenant(
                ipb.CreateTenantRequest(tenant=ipb.Tenant(name=prefecture)), metadata=bearer(token)
            )
        async with grpc.aio.insecure_channel(broker_address) as channel:
            broker: Any = broker_pb2_grpc.BrokerStub(channel)
            assert not (await broker.GetTenant(broker_pb2.TenantRequest(tenant=prefecture))).exists

        settings = init_script.InitSettings.from_env(
            _job_env(gateway_url, identity_address, prefecture, unique_tenant)
        )
        deadline = time.monotonic() + 30
        job_token = await init_script._admin_token(settings, deadline)
        lines = await asyncio.to_thread(init_script.provision, settings, job_token, deadline)
        assert lines == [
            f"tenant {prefecture!r} existed already (left unchanged)",
            "no administrator requested (initJob.adminUsername is empty)",
            f"tenant {prefecture!r} answers through the gateway",
        ]
        async with grpc.aio.insecure_channel(broker_address) as channel:
            broker = broker_pb2_grpc.BrokerStub(channel)
            assert (await broker.GetTenant(broker_pb2.TenantRequest(tenant=prefecture))).exists
