"""API keys: high-entropy secrets shown once, stored as SHA-256 digests, parsed without a lookup table."""

from __future__ import annotations

import hashlib
import hmac
import secrets
from dataclasses import dataclass

from cityos_runtime.problems import ProblemError

from cityos_identity.models import validate_tenant

PREFIX = "ck"


@dataclass(frozen=True, slots=True)
class ParsedKey:
    """The parts of a presented key: `ck.<tenant>.<key id>.<secret>`."""

    tenant: str
    key_id: str
    secret: str


def new_key(tenant: str) -> tuple[str, str, str]:
    """A fresh (key id, full key, digest); the full key is returned to the caller once and never stored."""
    key_id = secrets.token_hex(8)
    full = f"{PREFIX}.{tenant}.{key_id}.{secrets.token_urlsafe(32)}"
    return key_id, full, hash_key(full)


def hash_key(full: str) -> str:
    """SHA-256 of the whole key: 256 bits of entropy need no slow KDF, and lookups stay O(1)."""
    return hashlib.sha256(full.encode()).hexdigest()


def parse_key(full: str) -> ParsedKey | None:
    """The key's parts, or None when it does not have the `ck.<tenant>.<id>.<secret>` shape."""
    parts = full.split(".")
    if len(parts) != 4 or parts[0] != PREFIX or not parts[2] or len(parts[3]) < 32:
        return None
    try:
        tenant = validate_tenant(parts[1])
    except ProblemError:
        return None
    return ParsedKey(tenant, parts[2], parts[3])


def matches(full: str, stored_digest: str) -> bool:
    """Constant-time comparison of a presented key with the stored digest."""
    return hmac.compare_digest(hash_key(full), stored_digest)
