"""Redis key names. Tenant records carry the hash tag `{t:<tenant>}`; platform-wide identity records share
the tag `cityos:{identity}` so every multi-key script over them stays in one Redis Cluster slot."""

from __future__ import annotations

import hashlib
from typing import Any

PLATFORM = "cityos:{identity}:"
TENANTS = PLATFORM + "tenants"  # hash: name -> Tenant JSON
USERS = PLATFORM + "users"  # hash: user id -> User JSON
USERNAMES = PLATFORM + "usernames"  # hash: username -> user id
SIGNING_KEYS = PLATFORM + "signing-keys"  # hash: kid -> SigningKeyRecord JSON
SIGNING_CURRENT = PLATFORM + "signing-current"  # string: kid of the key that signs new tokens
ROTATION_LEASE = PLATFORM + "rotation-lease"  # string with PX: the replica that rotates now
REVOKED_EXP = PLATFORM + "revoked-exp"  # zset: jti -> expiry (Unix s)
REVOKED_AT = PLATFORM + "revoked-at"  # zset: jti -> revocation time (Unix s)
CONSENT_AUDIT = PLATFORM + "consent-audit"  # stream of consent changes
SHARING = PLATFORM + "sharing"  # hash: "<owner>|<grantee>" -> SharingGrant JSON


def text(value: bytes | str | int | float) -> str:
    """A Redis reply item as text (the client decodes responses; this narrows the type)."""
    return value.decode() if isinstance(value, bytes) else str(value)


def texts(reply: Any) -> list[str]:
    """A Redis list or set reply as text items."""
    return [text(item) for item in reply or ()]


def scored(reply: Any) -> list[tuple[str, float]]:
    """A `WITHSCORES` sorted-set reply as (member, score) pairs."""
    return [(text(member), float(score)) for member, score in reply or ()]


def digest(secret: str) -> str:
    """SHA-256 hex of a high-entropy secret: keys are never the secret itself."""
    return hashlib.sha256(secret.encode()).hexdigest()


def members(tenant: str) -> str:
    return f"{PLATFORM}members:{tenant}"  # set of user ids with a membership in the tenant


def failures(username: str) -> str:
    return f"{PLATFORM}fail:{username}"  # zset of failed login timestamps (per username, known or not)


def consents(subject: str) -> str:
    return f"{PLATFORM}consent:{subject}"  # hash: record id -> ConsentRecord JSON


def code(value: str) -> str:
    return f"{PLATFORM}code:{digest(value)}"


def refresh(value: str) -> str:
    return f"{PLATFORM}rt:{digest(value)}"


def family(family_id: str) -> str:
    return f"{PLATFORM}rtf:{family_id}"


def family_access(family_id: str) -> str:
    return f"{PLATFORM}rtf:{family_id}:at"  # zset: access-token jti -> expiry


def session(value: str) -> str:
    return f"{PLATFORM}session:{digest(value)}"


def csrf(value: str) -> str:
    return f"{PLATFORM}csrf:{digest(value)}"


def oauth_consent(user_id: str) -> str:
    return f"{PLATFORM}oauth-consent:{user_id}"  # hash: client id -> granted scopes


class TenantKeys:
    """Identity keys of one tenant; all share the tenant's hash tag."""

    __slots__ = ("apikeys", "clients", "grants", "policies", "policy_version", "prefix", "public")

    def __init__(self, tenant: str) -> None:
        self.prefix = f"{{t:{tenant}}}:id:"
        self.clients = self.prefix + "clients"  # hash: client id -> Client JSON
        self.apikeys = self.prefix + "apikeys"  # hash: key id -> ApiKey JSON
        self.policies = self.prefix + "policies"  # hash: client id -> EntityPolicy JSON
        self.public = self.prefix + "public"  # set of public entity types
        self.grants = self.prefix + "grants"  # set of grantee tenants
        self.policy_version = self.prefix + "policy-version"  # counter, bumped on each change

    def all(self) -> list[str]:
        return [self.clients, self.apikeys, self.policies, self.public, self.grants, self.policy_version]
