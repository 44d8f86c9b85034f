"""The signing keyring: cached keys from Redis, scheduled and on-demand rotation, JWT signing."""

from __future__ import annotations

import asyncio
import logging
import time
from dataclasses import dataclass
from typing import Any

from joserfc import jwt
from joserfc.jwk import ECKey, KeySet

from cityos_identity import signing
from cityos_identity.signing import KeyCipher, SigningKeyRecord
from cityos_identity.store.signing import SigningKeyStore

_log = logging.getLogger("cityos.identity.keys")
CACHE_SECONDS = 10.0
LEASE_MS = 30_000


@dataclass(frozen=True, slots=True)
class _Snapshot:
    current: SigningKeyRecord
    current_key: ECKey
    published: list[SigningKeyRecord]
    public_set: KeySet
    loaded_at: float


class Keyring:
    """Signs with the current key and knows every published one; reloads from Redis every few seconds."""

    def __init__(
        self, store: SigningKeyStore, cipher: KeyCipher, *, max_token_ttl: int, interval: int
    ) -> None:
        self._store = store
        self._cipher = cipher
        self._max_token_ttl = max_token_ttl
        self._interval = interval
        self._snapshot: _Snapshot | None = None
        self._lock = asyncio.Lock()

    async def snapshot(self, *, fresh: bool = False) -> _Snapshot:
        """The cached keys, reloaded when older than CACHE_SECONDS (or `fresh`); creates the first key."""
        snap = self._snapshot
        if snap and not fresh and time.monotonic() - snap.loaded_at < CACHE_SECONDS:
            return snap
        async with self._lock:
            snap = self._snapshot
            if snap and not fresh and time.monotonic() - snap.loaded_at < CACHE_SECONDS:
                return snap
            current_kid, records = await self._store.load()
            for _ in range(50):  # the first start: one replica creates the key, the others wait for it
                if current_kid:
                    break
                await self.rotate_if_due(force=False)
                current_kid, records = await self._store.load()
                if not current_kid:
                    await asyncio.sleep(0.1)
            by_kid = {r.kid: r for r in records}
            if current_kid not in by_kid:
                raise RuntimeError("no current signing key in Redis (rotation lost a race; retry)")
            current = by_kid[current_kid]
            published = signing.published(records, int(time.time()))
            snap = _Snapshot(
                current=current,
                current_key=signing.private_key(self._cipher, current),
                published=published,
                public_set=signing.public_key_set(published),
                loaded_at=time.monotonic(),
            )
            self._snapshot = snap
            return snap

    async def jwks(self) -> dict[str, Any]:
        """The public JWK Set document."""
        return signing.jwks_document((await self.snapshot()).published)

    async def sign(self, claims: dict[str, Any], *, typ: str) -> str:
        """A compact JWS of `claims` with the current key (header: alg, kid, typ)."""
        snap = await self.snapshot()
        header = {"alg": signing.ALGORITHM, "kid": snap.current.kid, "typ": typ}
        return jwt.encode(header, claims, snap.current_key, algorithms=[signing.ALGORITHM])

    async def verification_keys(self, kid: str) -> KeySet:
        """The public keys, refetched once when `kid` is unknown (a peer may just have rotated)."""
        snap = await self.snapshot()
        if not any(r.kid == kid for r in snap.published):
            snap = await self.snapshot(fresh=True)
        return snap.public_set

    async def rotate_if_due(self, *, force: bool) -> str | None:
        """Rotate when due (or `force`) while holding the lease; returns the new kid, or None."""
        lease = await self._store.acquire_lease(LEASE_MS)
        if lease is None:
            return None  # another replica is rotating right now
        try:
            now = int(time.time())
            current_kid, records = await self._store.load()
            current = next((r for r in records if r.kid == current_kid), None)
            if not force and not signing.rotation_due(current, self._interval, now):
                return None
            new = signing.generate_key(self._cipher, self._max_token_ttl, now)
            if not await self._store.rotate(new, current_kid, now, self._max_token_ttl):
                return None
            await self._store.delete(signing.expired(records, now))
            _log.info("signing key rotated", extra={"event": "key_rotated", "kid": new.kid})
            self._snapshot = None
            return new.kid
        finally:
            await self._store.release_lease(lease)

    async def run_rotation(self, check_every: float) -> None:
        """Check every `check_every` seconds whether the key is due for rotation (cancel to stop)."""
        while True:
            await asyncio.sleep(check_every)
            try:
                await self.rotate_if_due(force=False)
            except Exception:
                _log.exception("scheduled key rotation failed; retrying at the next check")
