"""Auth on: a confidential client of the bench's own tenant, created as the devstack's bootstrap admin.

The bench then sends `Authorization: Bearer <token>` (client_credentials grant) with every request, as a
backend integration does, so the gateway verifies a JWT per request, as the section 6 targets assume.
"""

from __future__ import annotations

import os
from dataclasses import dataclass, field
from pathlib import Path

import httpx
from cityos_devtools.access_seed import admin_login
from cityos_devtools.oauth import client_credentials_token

_SCOPES = ["entities:read", "entities:write", "subscriptions"]


class AuthError(RuntimeError):
    """The bench could not get a token; the message says which step failed."""


@dataclass(frozen=True)
class BenchClient:
    """A client_credentials client of one tenant; `token()` mints a fresh access token."""

    issuer: str
    client_id: str
    secret: str = field(repr=False)

    def token(self) -> str:
        """A new access token (tokens live 15 minutes by default: take one per measured step)."""
        return client_credentials_token(self.issuer, self.client_id, self.secret)


def bench_client(gateway_url: str, admin_password_file: str, tenant: str) -> BenchClient:
    """Create `tenant` and a backend client in it, signed in as the bootstrap admin."""
    password = Path(admin_password_file).read_text().strip()
    default_tenant = os.environ.get("CITYOS_DEFAULT_TENANT", "default")
    admin = admin_login(gateway_url, default_tenant, password)
    try:
        headers = {"Authorization": f"Bearer {admin.token()}"}
        with httpx.Client(base_url=f"{gateway_url}/admin/v1", headers=headers, timeout=30.0) as client:
            made = client.post("/tenants", json={"name": tenant, "displayName": "bench"})
            if made.status_code not in (200, 201, 409):
                raise AuthError(f"creating tenant {tenant}: HTTP {made.status_code} {made.text[:300]}")
            reply = client.post(
                f"/tenants/{tenant}/clients",
                json={
                    "name": "bench",
                    "confidential": True,
                    "grantTypes": ["client_credentials"],
                    "scopes": _SCOPES,
                    "roles": ["developer"],
                },
            )
            if reply.status_code not in (200, 201):
                raise AuthError(f"creating the bench client: HTTP {reply.status_code} {reply.text[:300]}")
            document = reply.json()
    finally:
        admin.close()
    return BenchClient(gateway_url, document["client"]["clientId"], document["clientSecret"])
