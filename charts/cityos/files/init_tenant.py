"""Create the first prefecture tenant of a fresh City OS release and its admin (Helm post-install hook).

Runs in the identity image (the broker image when identity is disabled) and talks gRPC, the way the
services talk to each other:

1. broker `EnsureTenant(<tenant>)`, so the tenant exists for the data API even with
   BROKER_AUTO_CREATE_TENANTS=false;
2. with identity (CITYOS_INIT_IDENTITY_ADDRESS set): sign in as the bootstrap platform admin `admin`
   (IDENTITY_BOOTSTRAP_ADMIN_PASSWORD, through the console client of CITYOS_DEFAULT_TENANT, exactly as a
   browser would), then `CreateTenant(<tenant>)` as a prefecture (no parent) and, when
   CITYOS_INIT_ADMIN_USERNAME is set, `CreateUser` with the `tenant-admin` role in it.

Re-running is harmless: ALREADY_EXISTS counts as done and nothing existing is changed. While a service
is still starting (UNAVAILABLE, DEADLINE_EXCEEDED) the Job retries until CITYOS_INIT_WAIT_SECONDS pass.
"""

from __future__ import annotations

import asyncio
import os
import sys
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Any, TypeVar

import grpc
from cityos.broker.v1 import broker_pb2, broker_pb2_grpc
from cityos.identity.v1 import identity_pb2 as ipb
from cityos.identity.v1 import identity_pb2_grpc

T = TypeVar("T")
_RETRYABLE = {grpc.StatusCode.UNAVAILABLE, grpc.StatusCode.DEADLINE_EXCEEDED}
_RETRY_SECONDS = 3.0
_CALL_TIMEOUT = 30.0


@dataclass(frozen=True)
class InitSettings:
    """What the Job is told through its environment."""

    broker_address: str
    tenant: str
    wait_seconds: float
    identity_address: str = ""
    issuer: str = ""
    default_tenant: str = ""
    bootstrap_password: str = ""
    admin_username: str = ""
    admin_email: str = ""
    admin_password: str = ""

    @classmethod
    def from_env(cls, environ: dict[str, str] | None = None) -> InitSettings:
        """Read the Job's variables; stop with the name of a missing one."""
        env = dict(os.environ if environ is None else environ)

        def need(name: str) -> str:
            value = env.get(name, "").strip()
            if not value:
                sys.exit(f"init: {name} is not set")
            return value

        settings = cls(
            broker_address=need("CITYOS_INIT_BROKER_ADDRESS"),
            tenant=need("CITYOS_INIT_TENANT"),
            wait_seconds=float(env.get("CITYOS_INIT_WAIT_SECONDS", "300")),
            identity_address=env.get("CITYOS_INIT_IDENTITY_ADDRESS", "").strip(),
            admin_username=env.get("CITYOS_INIT_ADMIN_USERNAME", "").strip(),
            admin_email=env.get("CITYOS_INIT_ADMIN_EMAIL", "").strip(),
        )
        if not settings.identity_address:
            if settings.admin_username:
                sys.exit("init: CITYOS_INIT_ADMIN_USERNAME needs CITYOS_INIT_IDENTITY_ADDRESS")
            return settings
        admin_password = need("CITYOS_INIT_ADMIN_PASSWORD") if settings.admin_username else ""
        return cls(
            **{
                **settings.__dict__,
                "issuer": need("IDENTITY_ISSUER").rstrip("/"),
                "default_tenant": need("CITYOS_DEFAULT_TENANT"),
                "bootstrap_password": need("IDENTITY_BOOTSTRAP_ADMIN_PASSWORD"),
                "admin_password": admin_password,
            }
        )


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


async def _created(call: Awaitable[Any]) -> bool:
    """True when the create call made something, False when it existed already."""
    try:
        await call
    except grpc.aio.AioRpcError as err:
        if err.code() == grpc.StatusCode.ALREADY_EXISTS:
            return False
        raise
    return True


async def run(
    settings: InitSettings,
    broker: Any,
    identity: Any | None,
    admin_token: Callable[[], Awaitable[str]],
    sleep: Callable[[float], Awaitable[Any]] = asyncio.sleep,
) -> list[str]:
    """Ensure the tenant (and its admin) everywhere; return what was done, one line per step."""
    deadline = time.monotonic() + settings.wait_seconds
    tenant = settings.tenant
    done: list[str] = []
    answer = await retrying(
        "broker EnsureTenant",
        lambda: broker.EnsureTenant(broker_pb2.TenantRequest(tenant=tenant), timeout=_CALL_TIMEOUT),
        deadline,
        sleep,
    )
    done.append(f"broker tenant {answer.tenant!r} present")
    if identity is None:
        done.append("identity is disabled: no identity tenant and no administrator")
        return done
    token = await retrying("identity sign-in as the bootstrap admin", admin_token, deadline, sleep)
    auth = (("authorization", f"Bearer {token}"),)
    request = ipb.CreateTenantRequest(tenant=ipb.Tenant(name=tenant, display_name=tenant))
    created = await _created(identity.CreateTenant(request, metadata=auth, timeout=_CALL_TIMEOUT))
    done.append(f"identity tenant {tenant!r} {'created' if created else 'existed already'}")
    if not settings.admin_username:
        done.append("no administrator requested (initJob.adminUsername is empty)")
        return done
    user = ipb.CreateUserRequest(
        username=settings.admin_username,
        password=settings.admin_password,
        display_name=f"{tenant} administrator",
        email=settings.admin_email,
        memberships=[ipb.Membership(tenant=tenant, roles=["tenant-admin"])],
    )
    created = await _created(identity.CreateUser(user, metadata=auth, timeout=_CALL_TIMEOUT))
    state = "created" if created else "existed already (left unchanged)"
    done.append(f"administrator {settings.admin_username!r} of {tenant!r} {state}")
    return done


async def _main(settings: InitSettings) -> list[str]:
    """Open the channels and run the steps."""
    async with grpc.aio.insecure_channel(settings.broker_address) as broker_channel:
        broker = broker_pb2_grpc.BrokerStub(broker_channel)
        if not settings.identity_address:
            return await run(settings, broker, None, _no_token)
        # Only the identity image has the scripted sign-in (the broker image runs the Job without identity).
        from cityos_identity.browser import FlowError, admin_token

        async with grpc.aio.insecure_channel(settings.identity_address) as identity_channel:
            identity = identity_pb2_grpc.IdentityStub(identity_channel)

            async def token() -> str:
                try:
                    return await admin_token(
                        identity, settings.default_tenant, settings.issuer, settings.bootstrap_password
                    )
                except FlowError as err:  # wrong password, missing console client: retrying cannot help
                    sys.exit(f"init: signing in as the bootstrap admin failed: {err}")

            return await run(settings, broker, identity, token)


async def _no_token() -> str:
    raise RuntimeError("no identity service")


def main() -> None:
    """Read the settings, run, report each step; a failed step stops the Job with its reason."""
    settings = InitSettings.from_env()
    try:
        for line in asyncio.run(_main(settings)):
            print(f"init: {line}", flush=True)
    except grpc.aio.AioRpcError as err:
        sys.exit(f"init: failed: {err.code().name}: {err.details()}")


if __name__ == "__main__":
    main()
