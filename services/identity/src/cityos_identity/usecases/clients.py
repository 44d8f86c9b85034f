"""OAuth clients and API keys of a tenant: registered by its admins or developers, secrets shown once."""

from __future__ import annotations

import hashlib
import secrets
import time
from urllib.parse import urlsplit

from cityos.identity.v1 import identity_pb2 as pb
from cityos_runtime.problems import ProblemError

from cityos_identity import apikeys, convert
from cityos_identity.caller import Caller
from cityos_identity.models import (
    GRANT_TYPES,
    ApiKey,
    Client,
    client_tenant,
    validate_roles,
    validate_scopes,
    validate_tenant,
)
from cityos_identity.stores import Stores

MAX_KEY_TTL = 2 * 365 * 86_400


def hash_client_secret(secret: str) -> str:
    """SHA-256 of a generated 256-bit client secret (high entropy: no slow KDF needed)."""
    return hashlib.sha256(secret.encode()).hexdigest()


def _redirect_uris(uris: list[str], what: str) -> list[str]:
    clean = []
    for uri in uris:
        parts = urlsplit(uri)
        loopback = parts.hostname in {"127.0.0.1", "localhost", "::1"}
        if parts.fragment or not parts.netloc or parts.scheme not in {"https", "http"}:
            raise ProblemError("BadRequestData", f"{what} {uri[:200]!r} must be an absolute http(s) URL")
        if parts.scheme == "http" and not loopback:
            raise ProblemError(
                "BadRequestData", f"{what} {uri[:200]!r} must use https (http only on loopback)"
            )
        clean.append(uri)
    return clean


def _can_register(caller: Caller, tenant: str) -> None:
    """Tenant admins and the tenant's developers may register clients and keys."""
    caller.require_authenticated()
    developer = "developer" in caller.tenant_roles.get(tenant, frozenset())
    if (caller.is_tenant_admin(tenant) or developer) and "admin" in caller.scopes:
        return
    raise ProblemError("Forbidden", f"only admins or developers of tenant {tenant!r} may manage its clients")


class ClientUseCases:
    """Client registration and API key issuance, listing and revocation."""

    def __init__(self, stores: Stores) -> None:
        self._s = stores

    async def create_client(self, caller: Caller, request: pb.CreateClientRequest) -> pb.CreateClientResponse:
        spec = request.client
        tenant = validate_tenant(spec.tenant)
        _can_register(caller, tenant)
        await self._s.directory.require_tenant(tenant)
        grant_types = sorted(set(spec.grant_types)) or ["authorization_code", "refresh_token"]
        if unknown := [g for g in grant_types if g not in GRANT_TYPES]:
            raise ProblemError(
                "BadRequestData", f"unsupported grant types {unknown}; use {list(GRANT_TYPES)}"
            )
        if "client_credentials" in grant_types and not spec.confidential:
            raise ProblemError("BadRequestData", "a public client cannot use client_credentials")
        redirect_uris = _redirect_uris(list(spec.redirect_uris), "redirect URI")
        if "authorization_code" in grant_types and not redirect_uris:
            raise ProblemError("BadRequestData", "authorization_code needs at least one redirect URI")
        roles = validate_roles(list(spec.roles))
        if "tenant-admin" in roles and not caller.is_tenant_admin(tenant):
            raise ProblemError("Forbidden", "only a tenant admin may register a client with tenant-admin")
        secret = secrets.token_urlsafe(32) if spec.confidential else ""
        client = Client(
            client_id=f"{tenant}.{secrets.token_urlsafe(12)}",
            tenant=tenant,
            name=spec.name.strip()[:200],
            confidential=spec.confidential,
            secret_hash=hash_client_secret(secret) if secret else "",
            redirect_uris=redirect_uris,
            post_logout_redirect_uris=_redirect_uris(list(spec.post_logout_redirect_uris), "logout URI"),
            grant_types=grant_types,
            scopes=validate_scopes(list(spec.scopes)) or ["entities:read", "openid", "profile"],
            roles=roles,
            created_at=int(time.time()),
        )
        await self._s.principals.create_client(client)
        return pb.CreateClientResponse(client=convert.client(client), client_secret=secret)

    async def _client(self, caller: Caller, client_id: str) -> Client:
        tenant = client_tenant(client_id)
        if not tenant:
            raise ProblemError("BadRequestData", f"malformed client id {client_id[:100]!r}")
        _can_register(caller, tenant)
        client = await self._s.principals.get_client(client_id)
        if client is None:
            raise ProblemError("ResourceNotFound", f"client {client_id!r} not found")
        return client

    async def get_client(self, caller: Caller, request: pb.GetClientRequest) -> pb.Client:
        return convert.client(await self._client(caller, request.client_id))

    async def list_clients(self, caller: Caller, request: pb.ListClientsRequest) -> pb.ListClientsResponse:
        tenant = validate_tenant(request.tenant)
        _can_register(caller, tenant)
        clients = await self._s.principals.list_clients(tenant)
        return pb.ListClientsResponse(clients=[convert.client(c) for c in clients])

    async def delete_client(self, caller: Caller, request: pb.DeleteClientRequest) -> pb.DeleteResponse:
        client = await self._client(caller, request.client_id)
        return pb.DeleteResponse(deleted=await self._s.principals.delete_client(client.client_id))

    async def create_api_key(
        self, caller: Caller, request: pb.CreateApiKeyRequest
    ) -> pb.CreateApiKeyResponse:
        tenant = validate_tenant(request.tenant)
        _can_register(caller, tenant)
        await self._s.directory.require_tenant(tenant)
        if not 0 <= request.ttl_seconds <= MAX_KEY_TTL:
            raise ProblemError("BadRequestData", f"ttl_seconds must be between 0 and {MAX_KEY_TTL}")
        scopes = validate_scopes(list(request.scopes))
        if not scopes:
            raise ProblemError("BadRequestData", "an API key needs at least one scope")
        roles = validate_roles(list(request.roles))
        if "tenant-admin" in roles and not caller.is_tenant_admin(tenant):
            raise ProblemError("Forbidden", "only a tenant admin may issue a key with tenant-admin")
        key_id, full, digest = apikeys.new_key(tenant)
        now = int(time.time())
        key = ApiKey(
            key_id=key_id,
            tenant=tenant,
            secret_hash=digest,
            name=request.name.strip()[:200],
            scopes=scopes,
            roles=roles,
            created_at=now,
            expires_at=now + request.ttl_seconds if request.ttl_seconds else 0,
        )
        await self._s.principals.create_api_key(key)
        return pb.CreateApiKeyResponse(key=convert.api_key(key), secret=full)

    async def list_api_keys(self, caller: Caller, request: pb.ListApiKeysRequest) -> pb.ListApiKeysResponse:
        tenant = validate_tenant(request.tenant)
        _can_register(caller, tenant)
        return pb.ListApiKeysResponse(
            keys=[convert.api_key(k) for k in await self._s.principals.list_api_keys(tenant)]
        )

    async def revoke_api_key(self, caller: Caller, request: pb.RevokeApiKeyRequest) -> pb.ApiKey:
        tenant = validate_tenant(request.tenant)
        _can_register(caller, tenant)
        key = await self._s.principals.revoke_api_key(tenant, request.key_id)
        if key is None:
            raise ProblemError("ResourceNotFound", f"API key {request.key_id!r} not found")
        return convert.api_key(key)

    async def verify_api_key(
        self, _caller: Caller, request: pb.VerifyApiKeyRequest
    ) -> pb.VerifyApiKeyResponse:
        """Whether a presented key is valid: known, hash matches, not revoked or expired, tenant active."""
        parsed = apikeys.parse_key(request.key)
        if parsed is None:
            return pb.VerifyApiKeyResponse(valid=False)
        key = await self._s.principals.get_api_key(parsed.tenant, parsed.key_id)
        if key is None or key.revoked or not apikeys.matches(request.key, key.secret_hash):
            return pb.VerifyApiKeyResponse(valid=False)
        if key.expires_at and key.expires_at <= time.time():
            return pb.VerifyApiKeyResponse(valid=False)
        tenant = await self._s.directory.get_tenant(key.tenant)
        if tenant is None or tenant.state != "active":
            return pb.VerifyApiKeyResponse(valid=False)
        return pb.VerifyApiKeyResponse(valid=True, key=convert.api_key(key))
