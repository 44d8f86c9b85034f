"""Signing keys: rotation windows, publication until the last token expires, encryption at rest."""

from __future__ import annotations

import time
from typing import Any

import orjson
import pytest
from cityos_identity import signing
from cityos_identity.signing import CLOCK_SKEW, KeyCipher, KeyDecryptionError


def _record(kid: str, created: int, retired: int = 0, ttl: int = 900) -> signing.SigningKeyRecord:
    return signing.SigningKeyRecord(kid, {"kid": kid}, "plain:{}", created, retired, ttl)


def test_current_key_is_always_published() -> None:
    current = _record("a", 0)
    assert signing.published([current], 10**9) == [current]
    assert signing.expired([current], 10**9) == []


def test_retired_key_stays_until_its_last_token_expires() -> None:
    old = _record("old", 0, retired=1000, ttl=900)
    new = _record("new", 1000)
    last_valid = 1000 + 900 + CLOCK_SKEW
    assert [r.kid for r in signing.published([old, new], last_valid)] == ["new", "old"]
    assert signing.expired([old, new], last_valid) == []
    assert [r.kid for r in signing.published([old, new], last_valid + 1)] == ["new"]
    assert signing.expired([old, new], last_valid + 1) == ["old"]


def test_rotation_due() -> None:
    assert signing.rotation_due(None, 3600, 0)
    assert not signing.rotation_due(_record("a", 1000), 3600, 4599)
    assert signing.rotation_due(_record("a", 1000), 3600, 4600)


def test_generated_key_is_es256_and_public_jwk_has_no_private_part() -> None:
    record = signing.generate_key(KeyCipher(None), 900, now=1_700_000_000)
    assert record.public_jwk["alg"] == "ES256" and record.public_jwk["crv"] == "P-256"
    assert record.public_jwk["kid"] == record.kid and "d" not in record.public_jwk
    assert signing.jwks_document([record]) == {"keys": [record.public_jwk]}


def test_private_keys_are_sealed_with_the_secret() -> None:
    cipher = KeyCipher("a secret of sufficient length")
    record = signing.generate_key(cipher, 900)
    assert record.private.startswith("aesgcm:") and '"d"' not in record.private
    assert signing.private_key(cipher, record).as_dict(private=True)["d"]
    with pytest.raises(KeyDecryptionError, match="wrong IDENTITY_KEY_ENCRYPTION_SECRET"):
        signing.private_key(KeyCipher("another secret, also long"), record)
    with pytest.raises(KeyDecryptionError, match="is not set"):
        signing.private_key(KeyCipher(None), record)


def test_sealed_key_is_bound_to_its_kid() -> None:
    cipher = KeyCipher("a secret of sufficient length")
    record = signing.generate_key(cipher, 900)
    with pytest.raises(KeyDecryptionError):
        cipher.open("another-kid", record.private)


def test_without_secret_keys_are_stored_plain() -> None:
    record = signing.generate_key(KeyCipher(None), 900)
    assert record.private.startswith("plain:")
    assert orjson.loads(record.private.removeprefix("plain:"))["d"]


async def test_keyring_rotation_keeps_the_old_key_and_signs_with_the_new(
    keyring: Any, signing_store: Any
) -> None:
    first = (await keyring.snapshot()).current.kid
    assert signing_store.current == first
    assert await keyring.rotate_if_due(force=False) is None  # not due yet
    second = await keyring.rotate_if_due(force=True)
    assert second and second != first
    jwks = await keyring.jwks()
    assert [k["kid"] for k in jwks["keys"]] == [second, first]
    old = signing_store.records[first]
    assert old.retired_at >= int(time.time()) - 1 and old.max_token_ttl == 900


async def test_rotation_is_skipped_while_another_replica_holds_the_lease(
    keyring: Any, signing_store: Any
) -> None:
    await keyring.snapshot()
    signing_store.lease = "someone else"
    assert await keyring.rotate_if_due(force=True) is None
