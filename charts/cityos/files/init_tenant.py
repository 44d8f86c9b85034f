"""Create the first prefecture tenant of a fresh City OS release and its admin (Helm post-install hook).

With identity (CITYOS_INIT_GATEWAY_URL and CITYOS_INIT_IDENTITY_ADDRESS set; the Job runs in the identity
image) the tenant is created the way every tenant is, through the gateway's management API:

1. sign in as the bootstrap platform admin `admin` (IDENTITY_BOOTSTRAP_ADMIN_PASSWORD) through the console
   client of CITYOS_DEFAULT_TENANT, exactly as a browser would (identity's `HandleOAuthRequest`);
2. `POST /admin/v1/tenants` (identity's tenant, a prefecture without parent, and the broker's);
3. with CITYOS_INIT_ADMIN_USERNAME, `POST /admin/v1/tenants/<tenant>/users` with the `tenant-admin` role;
4. `GET /ngsi-ld/v1/types` as that tenant, to prove the tenant answers through the gateway.

Without identity (only CITYOS_INIT_BROKER_ADDRESS; the broker image) the Job calls the broker's
`EnsureTenant`, so the tenant exists even with BROKER_AUTO_CREATE_TENANTS=false.

Re-running is harmless: 409 / ALREADY_EXISTS counts as done and nothing existing is changed, except that a
tenant an earlier run left half-created (identity has it, the broker never confirmed it) is finished: the
gateway makes sure the broker knows every tenant a repeated POST names. While a service is still starting
the Job retries until CITYOS_INIT_WAIT_SECONDS pass.
"""

from __future__ import annotations

import asyncio
import json
import os
import sys
import time
import urllib.error
import urllib.request
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, replace
from typing import Any, TypeVar
from urllib.parse import quote

import grpc
from cityos.broker.v1 import broker_pb2, broker_pb2_grpc

T = TypeVar("T")
_RETRYABLE = {grpc.StatusCode.UNAVAILABLE, grpc.StatusCode.DEADLINE_EXCEEDED}
_RETRY_SECONDS = 3.0
_CALL_TIMEOUT = 30.0


@dataclass(frozen=True)
class InitSettings:
    """What the Job is told through its environment."""

    tenant: str
    wait_seconds: float
    broker_address: str = ""
    gateway_url: str = ""
    identity_address: str = ""
    issuer: str = ""
    default_tenant: str = ""
    bootstrap_password: str = ""
    admin_username: str = ""
    admin_email: str = ""
    admin_password: str = ""

    @property
    def with_identity(self) -> bool:
        return bool(self.identity_address)

    @classmethod
    def from_env(cls, environ: dict[str, str] | None = None) -> InitSettings:
        """Read the Job's variables; stop with the name of a missing or malformed one."""
        env = dict(os.environ if environ is None else environ)

        def need(name: str) -> str:
            value = env.get(name, "").strip()
            if not value:
                sys.exit(f"init: {name} is not set")
            return value

        settings = cls(
            tenant=need("CITYOS_INIT_TENANT"),
            wait_seconds=float(env.get("CITYOS_INIT_WAIT_SECONDS", "300")),
            identity_address=env.get("CITYOS_INIT_IDENTITY_ADDRESS", "").strip(),
            admin_username=env.get("CITYOS_INIT_ADMIN_USERNAME", "").strip(),
            admin_email=env.get("CITYOS_INIT_ADMIN_EMAIL", "").strip(),
        )
        if not settings.with_identity:
            if settings.admin_username:
                sys.exit("init: CITYOS_INIT_ADMIN_USERNAME needs CITYOS_INIT_IDENTITY_ADDRESS")
            return replace(settings, broker_address=need("CITYOS_INIT_BROKER_ADDRESS"))
        gateway = need("CITYOS_INIT_GATEWAY_URL").rstrip("/")
        if not gateway.startswith(("http://", "https://")):
            sys.exit(f"init: CITYOS_INIT_GATEWAY_URL must be an http(s) URL, not {gateway!r}")
        return replace(
            settings,
            gateway_url=gateway,
            issuer=need("IDENTITY_ISSUER").rstrip("/"),
            default_tenant=need("CITYOS_DEFAULT_TENANT"),
            bootstrap_password=need("IDENTITY_BOOTSTRAP_ADMIN_PASSWORD"),
            admin_password=need("CITYOS_INIT_ADMIN_PASSWORD") if settings.admin_username else "",
        )


# ---- gRPC: the sign-in and the broker ---------------------------------------------------------------


async def retrying(
    what: str,
    call: Callable[[], Awaitable[T]],
    deadline: float,
    sleep: Callable[[float], Awaitable[Any]] = asyncio.sleep,
) -> T:
    """Await `call()`, again while the service is unavailable, until the monotonic deadline passes."""
    while True:
        try:
            return await call()
        except grpc.aio.AioRpcError as err:
            if err.code() not in _RETRYABLE:
                raise
            if time.monotonic() > deadline:
                sys.exit(f"init: {what}: still {err.code().name} after the wait ({err.details()})")
            print(f"init: {what}: {err.code().name}, retrying", flush=True)
        await sleep(_RETRY_SECONDS)


async def ensure_broker_tenant(settings: InitSettings, broker: Any, deadline: float) -> str:
    """The broker's EnsureTenant (the path without identity)."""
    request = broker_pb2.TenantRequest(tenant=settings.tenant)
    answer = await retrying(
        "broker EnsureTenant", lambda: broker.EnsureTenant(request, timeout=_CALL_TIMEOUT), deadline
    )
    return f"broker tenant {answer.tenant!r} present"


async def _broker_main(settings: InitSettings, deadline: float) -> list[str]:
    async with grpc.aio.insecure_channel(settings.broker_address) as channel:
        line = await ensure_broker_tenant(settings, broker_pb2_grpc.BrokerStub(channel), deadline)
    return [line, "identity is disabled: no identity tenant and no administrator"]


async def _admin_token(settings: InitSettings, deadline: float) -> str:
    """An access token of the bootstrap platform admin (scope `admin`), signed in through identity."""
    # Only the identity image has the scripted sign-in (the broker image runs the Job without identity).
    from cityos.identity.v1 import identity_pb2_grpc
    from cityos_identity.browser import FlowError, admin_token

    async with grpc.aio.insecure_channel(settings.identity_address) as channel:
        stub = identity_pb2_grpc.IdentityStub(channel)

        def sign_in() -> Awaitable[str]:
            return admin_token(stub, settings.default_tenant, settings.issuer, settings.bootstrap_password)

        try:
            return await retrying("identity sign-in as the bootstrap admin", sign_in, deadline)
        except FlowError as err:  # wrong password, missing console client: retrying cannot help
            sys.exit(f"init: signing in as the bootstrap admin failed: {err}")


# ---- HTTP: the gateway's management API ---------------------------------------------------------------


def _send(request: urllib.request.Request, timeout: float) -> tuple[int, bytes]:
    """Send a request; return its status and body, error statuses included."""
    try:
        with urllib.request.urlopen(request, timeout=timeout) as response:  # noqa: S310 (scheme checked)
            return int(response.status), response.read()
    except urllib.error.HTTPError as err:
        return int(err.code), err.read() or b""


def _detail(body: bytes) -> str:
    """The ProblemDetails `detail` (or title) of an error body, else the start of the body."""
    try:
        problem = json.loads(body)
        return str(problem.get("detail") or problem.get("title") or body[:200])
    except (ValueError, AttributeError):
        return body[:200].decode(errors="replace")


def wait_ready(gateway: str, deadline: float) -> None:
    """Poll the gateway's /readyz until it answers 200 or the deadline passes."""
    while True:
        try:
            request = urllib.request.Request(f"{gateway}/readyz")  # noqa: S310 (scheme checked)
            if _send(request, timeout=5)[0] == 200:
                return
        except OSError as err:  # connection refused while the gateway starts
            print(f"init: gateway not ready yet ({err})", flush=True)
        if time.monotonic() > deadline:
            sys.exit(f"init: gateway {gateway} was not ready in time")
        time.sleep(_RETRY_SECONDS)


def _create(settings: InitSettings, token: str, path: str, document: dict[str, Any], what: str) -> str:
    """POST a management document; 201 is created, 409 existed already; anything else stops the Job."""
    request = urllib.request.Request(  # noqa: S310 (scheme checked)
        f"{settings.gateway_url}/admin/v1{path}",
        data=json.dumps(document).encode(),
        method="POST",
        headers={"Content-Type": "application/json", "Authorization": f"Bearer {token}"},
    )
    status, body = _send(request, timeout=_CALL_TIMEOUT)
    if status == 201:
        return f"{what} created"
    if status == 409:
        return f"{what} existed already (left unchanged)"
    sys.exit(f"init: creating {what} failed with HTTP {status}: {_detail(body)}")


def provision(settings: InitSettings, token: str, deadline: float) -> list[str]:
    """Create the tenant and its admin through the gateway, then read from the tenant to prove it works."""
    wait_ready(settings.gateway_url, deadline)
    tenant = settings.tenant
    done = [
        _create(settings, token, "/tenants", {"name": tenant, "displayName": tenant}, f"tenant {tenant!r}")
    ]
    if settings.admin_username:
        user = {
            "username": settings.admin_username,
            "password": settings.admin_password,
            "displayName": f"{tenant} administrator",
            "email": settings.admin_email,
            "memberships": [{"tenant": tenant, "roles": ["tenant-admin"]}],
        }
        path = f"/tenants/{quote(tenant, safe='')}/users"
        done.append(_create(settings, token, path, user, f"administrator {settings.admin_username!r}"))
    else:
        done.append("no administrator requested (initJob.adminUsername is empty)")
    check = urllib.request.Request(  # noqa: S310 (scheme checked)
        f"{settings.gateway_url}/ngsi-ld/v1/types",
        headers={"NGSILD-Tenant": tenant, "Authorization": f"Bearer {token}", "Accept": "application/json"},
    )
    status, body = _send(check, timeout=_CALL_TIMEOUT)
    if status != 200:
        reason = f"HTTP {status}: {_detail(body)}"
        sys.exit(f"init: tenant {tenant!r} does not answer through the gateway: {reason}")
    done.append(f"tenant {tenant!r} answers through the gateway")
    return done


def main() -> None:
    """Read the settings, run the steps, report each; a failed step stops the Job with its reason."""
    settings = InitSettings.from_env()
    deadline = time.monotonic() + settings.wait_seconds
    try:
        if settings.with_identity:
            lines = provision(settings, asyncio.run(_admin_token(settings, deadline)), deadline)
        else:
            lines = asyncio.run(_broker_main(settings, deadline))
    except grpc.aio.AioRpcError as err:
        sys.exit(f"init: failed: {err.code().name}: {err.details()}")
    for line in lines:
        print(f"init: {line}", flush=True)


if __name__ == "__main__":
    main()
