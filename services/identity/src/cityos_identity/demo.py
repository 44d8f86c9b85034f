"""Demo principals for the local stack: a resident, a public app (code + PKCE) and a backend client.

`make run` (the devstack) calls `seed_demo` after the identity service and the bootstrap admin are up,
then prints the credentials. Idempotent: the resident's password is reset, the public client reused, and
the backend client re-created so that its one-time secret can be printed again.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import grpc
from cityos.identity.v1 import identity_pb2 as pb

from cityos_identity.browser import admin_token, bearer

RESIDENT = "demo-resident"
PUBLIC_APP = "Demo app"
BACKEND = "Demo backend"


@dataclass(frozen=True, slots=True)
class DemoCredentials:
    """What the devstack prints: how to log in with a browser and how to get a token from a backend."""

    tenant: str
    resident_username: str
    resident_password: str
    public_client_id: str
    redirect_uri: str
    backend_client_id: str
    backend_client_secret: str


async def seed_demo(
    stub: Any, *, tenant: str, issuer: str, admin_password: str, resident_password: str, redirect_uri: str
) -> DemoCredentials:
    """Create (or refresh) the demo principals in `tenant` as the bootstrap platform admin."""
    md = bearer(await admin_token(stub, tenant, issuer, admin_password))
    members = await stub.ListUsers(pb.ListUsersRequest(tenant=tenant), metadata=md)
    existing = next((u for u in members.users if u.username == RESIDENT), None)
    if existing is None:
        try:
            await stub.CreateUser(
                pb.CreateUserRequest(
                    username=RESIDENT,
                    password=resident_password,
                    display_name="Demo Resident",
                    email="demo-resident@example.jp",
                    memberships=[pb.Membership(tenant=tenant, roles=["resident"])],
                ),
                metadata=md,
            )
        except grpc.aio.AioRpcError as error:  # taken by a user of another tenant
            raise RuntimeError(f"cannot create {RESIDENT}: {error.details()}") from error
    else:
        await stub.SetUserPassword(
            pb.SetUserPasswordRequest(id=existing.id, password=resident_password), metadata=md
        )

    clients = (await stub.ListClients(pb.ListClientsRequest(tenant=tenant), metadata=md)).clients
    public = next((c for c in clients if c.name == PUBLIC_APP and redirect_uri in c.redirect_uris), None)
    if public is None:
        created = await stub.CreateClient(
            pb.CreateClientRequest(
                client=pb.Client(
                    tenant=tenant,
                    name=PUBLIC_APP,
                    confidential=False,
                    redirect_uris=[redirect_uri],
                    grant_types=["authorization_code", "refresh_token"],
                    scopes=["openid", "profile", "email", "entities:read", "subscriptions"],
                )
            ),
            metadata=md,
        )
        public = created.client
    for old in (c for c in clients if c.name == BACKEND):
        await stub.DeleteClient(pb.DeleteClientRequest(client_id=old.client_id), metadata=md)
    backend = await stub.CreateClient(
        pb.CreateClientRequest(
            client=pb.Client(
                tenant=tenant,
                name=BACKEND,
                confidential=True,
                grant_types=["client_credentials"],
                scopes=["entities:read", "entities:write", "subscriptions"],
                roles=["developer"],
            )
        ),
        metadata=md,
    )
    return DemoCredentials(
        tenant=tenant,
        resident_username=RESIDENT,
        resident_password=resident_password,
        public_client_id=public.client_id,
        redirect_uri=redirect_uri,
        backend_client_id=backend.client.client_id,
        backend_client_secret=backend.client_secret,
    )
