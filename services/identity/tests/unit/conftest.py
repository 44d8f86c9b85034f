"""Unit-test fixtures: an in-memory signing-key store, so the keyring runs without Redis."""

from __future__ import annotations

import pytest
from cityos_identity.keyring import Keyring
from cityos_identity.signing import KeyCipher, SigningKeyRecord


class MemorySigningStore:
    """SigningKeyStore's contract over a dict (same compare-and-set semantics as the Lua script)."""

    def __init__(self) -> None:
        self.records: dict[str, SigningKeyRecord] = {}
        self.current = ""
        self.lease: str | None = None

    async def load(self) -> tuple[str, list[SigningKeyRecord]]:
        return self.current, [SigningKeyRecord.from_json(r.to_json()) for r in self.records.values()]

    async def rotate(
        self, new: SigningKeyRecord, expected_current: str, now: int, max_token_ttl: int
    ) -> bool:
        if self.current != expected_current:
            return False
        if self.current:
            old = self.records[self.current]
            old.retired_at, old.max_token_ttl = now, max_token_ttl
        self.records[new.kid] = new
        self.current = new.kid
        return True

    async def delete(self, kids: list[str]) -> None:
        for kid in kids:
            self.records.pop(kid, None)

    async def acquire_lease(self, ttl_ms: int) -> str | None:
        if self.lease is not None:
            return None
        self.lease = "held"
        return self.lease

    async def release_lease(self, token: str) -> None:
        if self.lease == token:
            self.lease = None


@pytest.fixture
def signing_store() -> MemorySigningStore:
    return MemorySigningStore()


@pytest.fixture
def keyring(signing_store: MemorySigningStore) -> Keyring:
    return Keyring(signing_store, KeyCipher("unit-test-secret-0123456789"), max_token_ttl=900, interval=3600)  # type: ignore[arg-type]
