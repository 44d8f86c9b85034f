"""Start-up and shutdown: logging, telemetry, Redis, the keyring, the OAuth provider and the gRPC server."""

from __future__ import annotations

import asyncio
import contextlib
import logging
from dataclasses import dataclass, field

from cityos_runtime.grpc_server import GrpcServer
from cityos_runtime.observability import start_observability
from cityos_runtime.redis_connect import RedisClient, connect_redis
from cityos_runtime.telemetry import Telemetry
from redis.exceptions import RedisError

from cityos_identity.bootstrap import bootstrap
from cityos_identity.config import IdentitySettings
from cityos_identity.keyring import Keyring
from cityos_identity.lockout import LockoutPolicy
from cityos_identity.oauth.bridge import Bridge
from cityos_identity.oauth.endpoints import EndSession, Introspection, Revocation
from cityos_identity.oauth.handler import OAuthHandler
from cityos_identity.oauth.provider import ID_TOKEN_TTL, Provider, ProviderConfig
from cityos_identity.passwords import PasswordHasher, ScryptParams
from cityos_identity.servicer import SERVICE_NAME, IdentityServicer, register
from cityos_identity.signing import KeyCipher
from cityos_identity.stores import Stores
from cityos_identity.tokens import TokenVerifier
from cityos_identity.usecases.clients import ClientUseCases
from cityos_identity.usecases.consent import ConsentUseCases
from cityos_identity.usecases.keys import KeyUseCases
from cityos_identity.usecases.policies import PolicyUseCases
from cityos_identity.usecases.tenants import TenantUseCases
from cityos_identity.usecases.users import UserUseCases

_log = logging.getLogger("cityos.identity")
SHUTDOWN_GRACE_SECONDS = 10.0


@dataclass(slots=True)
class IdentityServer:
    """A built identity service: its gRPC server and what it must start and close."""

    settings: IdentitySettings
    grpc: GrpcServer
    redis: RedisClient
    stores: Stores
    keyring: Keyring
    hasher: PasswordHasher
    bridge: Bridge
    _rotation: asyncio.Task[None] | None = field(default=None)

    async def start(self) -> int:
        """Check Redis, bootstrap, make sure a signing key exists, start rotation and serve."""
        settings = self.settings
        try:
            await self.redis.ping()
            if settings.bootstrap_admin_password:
                await bootstrap(
                    self.stores,
                    self.hasher,
                    tenant=settings.common.default_tenant,
                    password=settings.bootstrap_admin_password,
                    issuer=settings.issuer,
                )
            await self.keyring.snapshot()
        except RedisError as error:
            raise OSError(f"Redis is not reachable: {type(error).__name__}: {error}") from error
        check_every = min(3600.0, max(5.0, settings.key_rotation_interval / 20))
        self._rotation = asyncio.create_task(self.keyring.run_rotation(check_every))
        return await self.grpc.start()

    async def stop(self, grace: float = SHUTDOWN_GRACE_SECONDS) -> None:
        """Stop serving (health flips first), stop rotation, close the thread pool and Redis."""
        try:
            await self.grpc.stop(grace)
        finally:
            await self.close()

    async def close(self) -> None:
        if self._rotation is not None:
            self._rotation.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._rotation
            self._rotation = None
        self.bridge.close()
        await self.redis.aclose()


def build_server(
    settings: IdentitySettings, telemetry: Telemetry, *, scrypt: ScryptParams | None = None
) -> IdentityServer:
    """Wire stores, keyring, provider, use cases and servicer into a gRPC server (not started)."""
    # authlib logs issued tokens at DEBUG: never let LOG_LEVEL=DEBUG put credentials in the logs.
    logging.getLogger("authlib").setLevel(max(logging.INFO, logging.getLogger("authlib").getEffectiveLevel()))
    redis = connect_redis(settings.redis, decode_responses=True, health_check_interval=30)
    stores = Stores.over(redis)
    cipher = KeyCipher(settings.key_encryption_secret)
    if not cipher.encrypts:
        _log.warning(
            "IDENTITY_KEY_ENCRYPTION_SECRET is not set: signing keys are stored unencrypted in Redis",
            extra={"event": "keys_unencrypted"},
        )
    max_ttl = max(settings.access_token_ttl, ID_TOKEN_TTL)
    keyring = Keyring(stores.signing, cipher, max_token_ttl=max_ttl, interval=settings.key_rotation_interval)
    verifier = TokenVerifier(keyring, issuer=settings.issuer)
    hasher = PasswordHasher(scrypt)
    bridge = Bridge()
    provider = Provider(
        ProviderConfig(
            settings.issuer, settings.audience, settings.access_token_ttl, settings.refresh_token_ttl
        ),
        stores,
        keyring,
        bridge,
    )
    provider.register_endpoint(Introspection(provider, verifier))
    provider.register_endpoint(Revocation(provider, verifier))
    provider.register_endpoint(EndSession(provider))
    users = UserUseCases(stores, hasher, LockoutPolicy(settings.lockout_threshold, settings.lockout_window))
    oauth = OAuthHandler(
        provider,
        verifier,
        users,
        bridge,
        session_ttl=settings.session_ttl,
        secure_cookies=settings.secure_cookies,
    )
    servicer = IdentityServicer(
        stores,
        verifier,
        settings.audience,
        tenants=TenantUseCases(stores),
        users=users,
        clients=ClientUseCases(stores),
        consent=ConsentUseCases(stores),
        policies=PolicyUseCases(stores),
        keys=KeyUseCases(stores, keyring),
        oauth=oauth,
    )
    server = GrpcServer(settings.common.service_name, settings.grpc_host, settings.grpc_port, telemetry)
    server.add(register(servicer), [SERVICE_NAME])
    return IdentityServer(settings, server, redis, stores, keyring, hasher, bridge)


async def serve(settings: IdentitySettings) -> None:
    """Run the identity service until SIGTERM / SIGINT, then drain in-flight calls and close every client."""
    common = settings.common
    telemetry = start_observability(common)
    identity = build_server(settings, telemetry)
    try:
        port = await identity.start()
        # The devstack reads this line to learn the port when IDENTITY_GRPC_PORT=0.
        _log.info("listening", extra={"event": "listening", "port": port})
        await identity.grpc.serve_until_signal(SHUTDOWN_GRACE_SECONDS)
    finally:
        await identity.close()
        telemetry.shutdown()
