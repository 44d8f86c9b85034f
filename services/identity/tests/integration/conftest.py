"""Integration fixtures: a real identity service (grpc.aio on 127.0.0.1:0) over a real Redis / Valkey."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass
from typing import Any

import grpc
import pytest
from cityos.identity.v1 import identity_pb2 as pb
from cityos.identity.v1 import identity_pb2_grpc
from cityos_identity.browser import admin_token, bearer
from cityos_identity.config import IdentitySettings
from cityos_identity.passwords import ScryptParams
from cityos_identity.server import IdentityServer, build_server
from cityos_runtime.telemetry import setup_telemetry

ISSUER = "http://127.0.0.1:8080"
ADMIN_PASSWORD = "admin-password-for-tests"
# Cheap scrypt for tests (the production cost is exercised in the unit tests).
FAST_SCRYPT = ScryptParams(n=2**10, r=8, p=1)


@asynccontextmanager
async def running_identity(
    redis_url: str, tenant: str, **env: str
) -> AsyncIterator[tuple[IdentityServer, Any]]:
    """Start the identity service on a free port; yields (server, stub) and stops it gracefully."""
    settings = IdentitySettings.from_env(
        environ={
            "REDIS_URL": redis_url,
            "IDENTITY_GRPC_HOST": "127.0.0.1",
            "IDENTITY_GRPC_PORT": "0",
            "IDENTITY_ISSUER": ISSUER,
            "IDENTITY_BOOTSTRAP_ADMIN_PASSWORD": ADMIN_PASSWORD,
            "CITYOS_DEFAULT_TENANT": tenant,
            "IDENTITY_KEY_ENCRYPTION_SECRET": "a-test-secret-of-32-characters!!",
            **env,
        }
    )
    server = build_server(settings, setup_telemetry("identity-test"), scrypt=FAST_SCRYPT)
    port = await server.start()
    try:
        async with grpc.aio.insecure_channel(f"127.0.0.1:{port}") as channel:
            yield server, identity_pb2_grpc.IdentityStub(channel)
    finally:
        await server.stop(grace=1.0)


@pytest.fixture(name="running_identity")
def running_identity_factory() -> Any:
    """The `running_identity` context manager, for tests that start more replicas."""
    return running_identity


@pytest.fixture
async def identity(
    redis_env: dict[str, str], unique_tenant: str
) -> AsyncIterator[tuple[IdentityServer, Any]]:
    """A running identity service whose bootstrap tenant is a fresh tenant (so tests never share data)."""
    async with running_identity(redis_env["REDIS_URL"], unique_tenant, **redis_env) as running:
        yield running


@dataclass
class Env:
    """A running identity service, its stub, the bootstrap tenant and a platform admin token."""

    server: IdentityServer
    stub: Any
    tenant: str
    admin: str

    @property
    def admin_md(self) -> tuple[tuple[str, str], ...]:
        return bearer(self.admin)

    async def municipality(self, name: str) -> str:
        await self.stub.CreateTenant(
            pb.CreateTenantRequest(tenant=pb.Tenant(name=name, parent=self.tenant, display_name=name)),
            metadata=self.admin_md,
        )
        return name

    async def resident(
        self, tenant: str, username: str, password: str, roles: tuple[str, ...] = ("resident",)
    ) -> str:
        user = await self.stub.CreateUser(
            pb.CreateUserRequest(
                username=username,
                password=password,
                display_name=username.title(),
                email=f"{username}@example.jp",
                memberships=[pb.Membership(tenant=tenant, roles=list(roles))],
            ),
            metadata=self.admin_md,
        )
        return str(user.id)

    async def client(self, tenant: str, *, confidential: bool, **fields: Any) -> tuple[str, str]:
        spec = pb.Client(tenant=tenant, name=f"app of {tenant}", confidential=confidential, **fields)
        created = await self.stub.CreateClient(pb.CreateClientRequest(client=spec), metadata=self.admin_md)
        return created.client.client_id, created.client_secret


@pytest.fixture
async def env(identity: tuple[IdentityServer, Any], unique_tenant: str) -> Env:
    server, stub = identity
    return Env(server, stub, unique_tenant, await admin_token(stub, unique_tenant, ISSUER, ADMIN_PASSWORD))
