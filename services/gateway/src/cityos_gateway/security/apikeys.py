"""API keys: verified by the identity service, cached briefly under the key's SHA-256 (not the key)."""

from __future__ import annotations

import hashlib
import time
from collections.abc import Awaitable, Callable
from typing import Any

from cityos_gateway.auth import Principal, unauthorized
from cityos_gateway.security.tokens import PLATFORM_ADMIN

# key -> VerifyApiKeyResponse-like object (.valid, .key with key_id, tenant, scopes, roles, expires_at)
ApiKeyFetch = Callable[[str], Awaitable[Any]]
_MAX_ENTRIES = 10_000


class ApiKeyCache:
    """Valid keys are cached `positive_ttl` s (so revocation takes that long), invalid `negative_ttl` s."""

    def __init__(
        self,
        fetch: ApiKeyFetch,
        *,
        positive_ttl: float = 30.0,
        negative_ttl: float = 10.0,
        clock: Callable[[], float] = time.monotonic,
        now: Callable[[], float] = time.time,
    ) -> None:
        self._fetch = fetch
        self._positive_ttl = positive_ttl
        self._negative_ttl = negative_ttl
        self._clock = clock
        self._now = now
        self._cache: dict[bytes, tuple[float, Principal | None, int]] = {}

    async def principal(self, key: str) -> Principal:
        """The caller a presented API key stands for, or 401."""
        digest = hashlib.sha256(key.encode()).digest()
        entry = self._cache.get(digest)
        if entry is None or entry[0] < self._clock():
            entry = await self._verify(key)
            if len(self._cache) >= _MAX_ENTRIES:
                self._cache.clear()  # a flood of random keys must not grow memory without bound
            self._cache[digest] = entry
        _, principal, expires_at = entry
        if principal is None or (expires_at and expires_at < self._now()):
            raise unauthorized("the API key is not valid")
        return principal

    async def _verify(self, key: str) -> tuple[float, Principal | None, int]:
        reply = await self._fetch(key)
        if not reply.valid:
            return self._clock() + self._negative_ttl, None, 0
        record = reply.key
        roles = frozenset(record.roles)
        principal = Principal(
            subject=f"apikey:{record.key_id}",
            tenants=None if PLATFORM_ADMIN in roles else frozenset({record.tenant}),
            scopes=frozenset(record.scopes),
            client_id=record.key_id,
            roles=roles,
        )
        return self._clock() + self._positive_ttl, principal, int(record.expires_at)
