"""Demo tenants, principals and access rules for the local stack, created through the gateway's /admin/v1 API
as the bootstrap platform admin. Idempotent: existing tenants and users are kept; the demo backend client
is re-created on every run so its one-time secret can be printed."""

from __future__ import annotations

import secrets
from dataclasses import dataclass, field
from pathlib import Path

import httpx

from cityos_devtools.oauth import TokenSource, user_login
from cityos_devtools.seed import MUNICIPALITIES, PREFECTURE

ADMIN_USERNAME = "admin"
RESIDENT = "demo-resident"
BACKEND = "Demo backend"
PUBLIC_APP = "Demo app"
# Open data every tenant publishes: readable without a token, as the printed example queries are.
PUBLIC_TYPES = ("WaterLevelGauge", "EvacuationShelter")
ADMIN_SCOPE = "openid offline_access admin entities:read entities:write subscriptions"


class AccessSeedError(RuntimeError):
    """The identity service refused part of the demo set-up."""


@dataclass(frozen=True)
class DemoAccess:
    """What the banner prints: how to get a token from a backend and how to log in with a browser."""

    backend_client_id: str
    backend_client_secret: str = field(repr=False)
    resident_username: str
    resident_password: str = field(repr=False)
    public_client_id: str
    redirect_uri: str


def secret_file(path: Path) -> str:
    """A random secret kept in `path` (0600), created on first use, so restarts keep the same one."""
    if path.exists():
        return path.read_text().strip()
    path.parent.mkdir(parents=True, exist_ok=True)
    value = secrets.token_urlsafe(18)
    path.touch(mode=0o600)
    path.write_text(value)
    return value


def admin_login(gateway_url: str, default_tenant: str, password: str) -> TokenSource:
    """The bootstrap platform admin's tokens, through the console client (code flow with PKCE)."""
    return user_login(
        gateway_url,
        client_id=f"{default_tenant}.console",
        redirect_uri=f"{gateway_url}/console/callback",
        username=ADMIN_USERNAME,
        password=password,
        scope=ADMIN_SCOPE,
    )


def _ok(reply: httpx.Response, *allowed: int) -> httpx.Response:
    if reply.status_code not in (200, 201, 204, *allowed):
        raise AccessSeedError(
            f"{reply.request.method} {reply.request.url.path}: HTTP {reply.status_code} {reply.text[:500]}"
        )
    return reply


def seed_access(admin: httpx.Client, gateway_url: str, resident_password: str) -> DemoAccess:
    """Tenants hokkaido > sapporo, otaru; public types; sharing to the prefecture; demo principals."""
    _ok(admin.post("/tenants", json={"name": PREFECTURE, "displayName": "Hokkaido"}), 409)
    for town in MUNICIPALITIES:
        _ok(
            admin.post("/tenants", json={"name": town, "parent": PREFECTURE, "displayName": town.title()}),
            409,
        )
    for tenant in (PREFECTURE, *MUNICIPALITIES):
        _ok(admin.put(f"/tenants/{tenant}/public-types", json={"entityTypes": list(PUBLIC_TYPES)}))
    for town in MUNICIPALITIES:  # the prefecture reads its municipalities' gauges and shelters
        _ok(
            admin.put(
                f"/tenants/{town}/sharing-grants/{PREFECTURE}", json={"entityTypes": list(PUBLIC_TYPES)}
            )
        )
    users = _ok(admin.get(f"/tenants/{PREFECTURE}/users")).json().get("users", [])
    if not any(u.get("username") == RESIDENT for u in users):
        _ok(
            admin.post(
                f"/tenants/{PREFECTURE}/users",
                json={
                    "username": RESIDENT,
                    "password": resident_password,
                    "displayName": "Demo Resident",
                    "memberships": [{"tenant": PREFECTURE, "roles": ["resident"]}],
                },
            ),
            409,
        )
    clients = _ok(admin.get(f"/tenants/{PREFECTURE}/clients")).json().get("clients", [])
    redirect_uri = f"{gateway_url}/demo/callback"
    public = next((c for c in clients if c.get("name") == PUBLIC_APP), None)
    if public is None:
        public = _ok(
            admin.post(
                f"/tenants/{PREFECTURE}/clients",
                json={
                    "name": PUBLIC_APP,
                    "confidential": False,
                    "redirectUris": [redirect_uri],
                    "grantTypes": ["authorization_code", "refresh_token"],
                    "scopes": ["openid", "profile", "offline_access", "entities:read", "subscriptions"],
                },
            )
        ).json()["client"]
    for old in (c for c in clients if c.get("name") == BACKEND):
        _ok(admin.delete(f"/clients/{old['clientId']}"))
    backend = _ok(
        admin.post(
            f"/tenants/{PREFECTURE}/clients",
            json={
                "name": BACKEND,
                "confidential": True,
                "grantTypes": ["client_credentials"],
                "scopes": ["entities:read", "entities:write", "subscriptions"],
                "roles": ["developer"],
            },
        )
    ).json()
    return DemoAccess(
        backend_client_id=backend["client"]["clientId"],
        backend_client_secret=backend["clientSecret"],
        resident_username=RESIDENT,
        resident_password=resident_password,
        public_client_id=public["clientId"],
        redirect_uri=redirect_uri,
    )
