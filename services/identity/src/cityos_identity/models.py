"""Identity records (tenants, users, clients, API keys, consent, policies) and their JSON form in Redis."""

from __future__ import annotations

import re
from dataclasses import asdict, dataclass, field
from typing import Any, Self

import orjson
from cityos_runtime.problems import ProblemError

ROLES = ("platform-admin", "tenant-admin", "developer", "resident")
API_SCOPES = ("entities:read", "entities:write", "subscriptions", "assets", "catalog", "connectors", "admin")
OIDC_SCOPES = ("openid", "profile", "email", "offline_access")
GRANT_TYPES = ("authorization_code", "refresh_token", "client_credentials")
TENANT_STATES = ("active", "suspended", "deleted")

_TENANT_NAME = re.compile(r"[a-z0-9][a-z0-9_-]{0,62}")
_ROLE_NAME = re.compile(r"[a-z][a-z0-9-]{0,62}")
_USERNAME = re.compile(r"[a-z0-9][a-z0-9._@+-]{0,127}")


def validate_tenant(name: str) -> str:
    """The tenant name, lower-cased, when it is `[a-z0-9][a-z0-9_-]{0,62}`; else BadRequestData."""
    normalised = name.strip().lower()
    if not _TENANT_NAME.fullmatch(normalised):
        raise ProblemError(
            "BadRequestData",
            f"invalid tenant name {name[:80]!r}: use 1-63 lowercase letters, digits, '_' or '-', "
            "starting with a letter or digit",
        )
    return normalised


def validate_username(name: str) -> str:
    """The lower-cased username when valid (letters, digits, . _ @ + -), else BadRequestData."""
    normalised = name.strip().lower()
    if not _USERNAME.fullmatch(normalised):
        raise ProblemError("BadRequestData", f"invalid username {name[:80]!r}")
    return normalised


def validate_roles(roles: list[str]) -> list[str]:
    """Sorted, unique role names; extension roles are fine, platform-admin is not a tenant role."""
    clean = sorted({r.strip() for r in roles if r.strip()})
    for role in clean:
        if not _ROLE_NAME.fullmatch(role) or role == "platform-admin":
            raise ProblemError("BadRequestData", f"invalid tenant role {role[:80]!r}")
    return clean


def validate_scopes(scopes: list[str]) -> list[str]:
    """Sorted, de-duplicated scopes, each a known API or OIDC scope."""
    clean = sorted({s.strip() for s in scopes if s.strip()})
    unknown = [s for s in clean if s not in API_SCOPES and s not in OIDC_SCOPES]
    if unknown:
        raise ProblemError(
            "BadRequestData", f"unknown scopes {unknown}; known: {[*API_SCOPES, *OIDC_SCOPES]}"
        )
    return clean


class _Record:
    """JSON (de)serialisation shared by every record dataclass."""

    def to_json(self) -> str:
        return orjson.dumps(asdict(self)).decode()  # type: ignore[call-overload]

    @classmethod
    def from_json(cls, raw: str | bytes) -> Self:
        data: dict[str, Any] = orjson.loads(raw)
        fields = cls.__dataclass_fields__  # type: ignore[attr-defined]
        return cls(**{k: v for k, v in data.items() if k in fields})


@dataclass(slots=True)
class Tenant(_Record):
    name: str
    parent: str = ""
    display_name: str = ""
    state: str = "active"
    created_at: int = 0
    updated_at: int = 0


@dataclass(slots=True)
class User(_Record):
    id: str
    username: str
    password_hash: str
    display_name: str = ""
    email: str = ""
    memberships: dict[str, list[str]] = field(default_factory=dict)
    platform_admin: bool = False
    disabled: bool = False
    created_at: int = 0

    def roles_in(self, tenant: str) -> list[str]:
        """The user's roles in `tenant`, with platform-admin added for platform admins."""
        roles = list(self.memberships.get(tenant, ()))
        return ["platform-admin", *roles] if self.platform_admin else roles


@dataclass(slots=True)
class Client(_Record):
    client_id: str
    tenant: str
    name: str = ""
    confidential: bool = True
    secret_hash: str = ""
    redirect_uris: list[str] = field(default_factory=list)
    post_logout_redirect_uris: list[str] = field(default_factory=list)
    grant_types: list[str] = field(default_factory=list)
    scopes: list[str] = field(default_factory=list)
    roles: list[str] = field(default_factory=list)
    created_at: int = 0


@dataclass(slots=True)
class ApiKey(_Record):
    key_id: str
    tenant: str
    secret_hash: str
    name: str = ""
    scopes: list[str] = field(default_factory=list)
    roles: list[str] = field(default_factory=list)
    created_at: int = 0
    expires_at: int = 0
    revoked: bool = False


@dataclass(slots=True)
class ConsentRecord(_Record):
    id: str
    subject: str
    client_id: str
    tenant: str
    data_category: str
    purpose: str
    state: str = "granted"
    granted_at: int = 0
    withdrawn_at: int = 0


@dataclass(slots=True)
class EntityPolicy(_Record):
    tenant: str
    client_id: str
    entity_types: list[str] = field(default_factory=list)
    attributes: list[str] = field(default_factory=list)
    read: bool = False
    write: bool = False
    name: str = "default"

    @property
    def key(self) -> str:
        """The policy's field in the tenant's policy hash."""
        return policy_key(self.client_id, self.name)


def policy_key(client_id: str, name: str) -> str:
    return f"{client_id}|{name or 'default'}"


@dataclass(slots=True)
class SharingGrant(_Record):
    owner: str
    grantee: str
    entity_types: list[str] = field(default_factory=list)
    created_at: int = 0


def client_tenant(client_id: str) -> str:
    """The tenant encoded in a client id (`<tenant>.<random>`), or "" when the id is malformed."""
    tenant, dot, rest = client_id.partition(".")
    return tenant if dot and rest and _TENANT_NAME.fullmatch(tenant) else ""
