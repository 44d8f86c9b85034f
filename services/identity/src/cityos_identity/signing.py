"""ES256 signing keys: generation, encryption at rest (AES-GCM), and which keys the JWKS must publish."""

from __future__ import annotations

import base64
import secrets
import time
from dataclasses import dataclass
from typing import Any, Self

import orjson
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.ciphers.aead import AESGCM
from cryptography.hazmat.primitives.kdf.hkdf import HKDF
from joserfc.jwk import ECKey, KeySet

ALGORITHM = "ES256"
# Tokens are accepted up to this many seconds of clock skew; retired keys stay published that much longer.
CLOCK_SKEW = 60


class KeyDecryptionError(Exception):
    """A stored private key cannot be decrypted with the configured secret (or none is configured)."""


@dataclass(slots=True)
class SigningKeyRecord:
    """One signing key as stored: public JWK, private JWK (encrypted when a secret is set), lifetimes."""

    kid: str
    public_jwk: dict[str, Any]
    private: str  # "aesgcm:<nonce>:<ciphertext>" or "plain:<jwk json>"
    created_at: int
    retired_at: int = 0  # when it stopped signing new tokens; 0 while current
    max_token_ttl: int = 0  # the longest lifetime of a token it may have signed

    def to_json(self) -> str:
        return orjson.dumps(
            {
                "kid": self.kid,
                "public_jwk": self.public_jwk,
                "private": self.private,
                "created_at": self.created_at,
                "retired_at": self.retired_at,
                "max_token_ttl": self.max_token_ttl,
            }
        ).decode()

    @classmethod
    def from_json(cls, raw: str | bytes) -> Self:
        data = orjson.loads(raw)
        return cls(**data)

    def publish_until(self) -> int | None:
        """The time after which no unexpired token can carry this kid (None while it is current)."""
        if not self.retired_at:
            return None
        return self.retired_at + self.max_token_ttl + CLOCK_SKEW


class KeyCipher:
    """Encrypts private JWKs with AES-256-GCM under a key derived (HKDF) from the configured secret."""

    def __init__(self, secret: str | None) -> None:
        self._aead: AESGCM | None = None
        if secret:
            derived = HKDF(
                algorithm=hashes.SHA256(), length=32, salt=None, info=b"cityos-identity signing keys v1"
            ).derive(secret.encode())
            self._aead = AESGCM(derived)

    @property
    def encrypts(self) -> bool:
        return self._aead is not None

    def seal(self, kid: str, private_jwk: dict[str, Any]) -> str:
        plain = orjson.dumps(private_jwk)
        if self._aead is None:
            return "plain:" + plain.decode()
        nonce = secrets.token_bytes(12)
        sealed = self._aead.encrypt(nonce, plain, kid.encode())  # the kid is bound as associated data
        return f"aesgcm:{_b64(nonce)}:{_b64(sealed)}"

    def open(self, kid: str, stored: str) -> dict[str, Any]:
        scheme, _, rest = stored.partition(":")
        if scheme == "plain":
            data: dict[str, Any] = orjson.loads(rest)
            return data
        if scheme != "aesgcm":
            raise KeyDecryptionError(f"signing key {kid}: unknown storage scheme {scheme!r}")
        if self._aead is None:
            raise KeyDecryptionError(
                f"signing key {kid} is encrypted but IDENTITY_KEY_ENCRYPTION_SECRET is not set"
            )
        nonce, _, sealed = rest.partition(":")
        try:
            plain = self._aead.decrypt(_unb64(nonce), _unb64(sealed), kid.encode())
        except Exception as error:  # cryptography raises InvalidTag; never leak key material
            raise KeyDecryptionError(
                f"signing key {kid} cannot be decrypted: wrong IDENTITY_KEY_ENCRYPTION_SECRET"
            ) from error
        opened: dict[str, Any] = orjson.loads(plain)
        return opened


def _b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def _unb64(text: str) -> bytes:
    return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))


def generate_key(cipher: KeyCipher, max_token_ttl: int, now: int | None = None) -> SigningKeyRecord:
    """A fresh P-256 key with a random kid, its private half sealed by `cipher`."""
    kid = f"k{int(now or time.time())}-{secrets.token_hex(4)}"
    key = ECKey.generate_key("P-256", parameters={"kid": kid, "alg": ALGORITHM, "use": "sig"})
    public = key.as_dict(private=False)
    return SigningKeyRecord(
        kid=kid,
        public_jwk=public,
        private=cipher.seal(kid, key.as_dict(private=True)),
        created_at=int(now or time.time()),
        max_token_ttl=max_token_ttl,
    )


def published(records: list[SigningKeyRecord], now: int) -> list[SigningKeyRecord]:
    """Keys the JWKS must list: the current one and retired ones whose last token may still be valid."""
    keep = []
    for record in records:
        until = record.publish_until()
        if until is None or now <= until:
            keep.append(record)
    # The current key first, then retired ones from the most recently retired.
    return sorted(keep, key=lambda r: (r.retired_at == 0, r.retired_at, r.created_at), reverse=True)


def expired(records: list[SigningKeyRecord], now: int) -> list[str]:
    """Kids of retired keys that can be deleted: every token they signed has expired."""
    return [r.kid for r in records if (until := r.publish_until()) is not None and now > until]


def rotation_due(current: SigningKeyRecord | None, interval: int, now: int) -> bool:
    """True when there is no current key or it has signed for `interval` seconds."""
    return current is None or now - current.created_at >= interval


def jwks_document(records: list[SigningKeyRecord]) -> dict[str, Any]:
    """The public JWK Set of `records`."""
    return {"keys": [dict(r.public_jwk) for r in records]}


def public_key_set(records: list[SigningKeyRecord]) -> KeySet:
    return KeySet.import_key_set(jwks_document(records))  # type: ignore[arg-type]


def private_key(cipher: KeyCipher, record: SigningKeyRecord) -> ECKey:
    return ECKey.import_key(cipher.open(record.kid, record.private))
