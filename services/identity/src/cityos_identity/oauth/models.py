"""The objects authlib's grants and endpoints ask for: clients, codes and tokens over our records."""

from __future__ import annotations

import hmac
import time
from dataclasses import dataclass, field
from typing import Any

from cityos_identity.models import Client, User
from cityos_identity.usecases.clients import hash_client_secret


class OAuthClient:
    """authlib's ClientMixin over a stored `Client`."""

    def __init__(self, client: Client) -> None:
        self.record = client
        self.client_metadata = {"post_logout_redirect_uris": client.post_logout_redirect_uris}

    def get_client_id(self) -> str:
        return self.record.client_id

    def get_default_redirect_uri(self) -> str | None:
        return self.record.redirect_uris[0] if self.record.redirect_uris else None

    def get_allowed_scope(self, scope: str | None) -> str:
        if not scope:
            return ""
        allowed = set(self.record.scopes)
        return " ".join(s for s in scope.split() if s in allowed)

    def check_redirect_uri(self, redirect_uri: str) -> bool:
        return redirect_uri in self.record.redirect_uris  # exact match only (OAuth 2.1)

    def check_client_secret(self, client_secret: str) -> bool:
        if not self.record.confidential or not self.record.secret_hash:
            return False
        return hmac.compare_digest(hash_client_secret(client_secret), self.record.secret_hash)

    def check_endpoint_auth_method(self, method: str, endpoint: str) -> bool:
        if self.record.confidential:
            return method in {"client_secret_basic", "client_secret_post"}
        return method == "none"

    def check_response_type(self, response_type: str) -> bool:
        return response_type == "code" and "authorization_code" in self.record.grant_types

    def check_grant_type(self, grant_type: str) -> bool:
        return grant_type in self.record.grant_types


@dataclass(slots=True)
class AuthorizationCode:
    """A redeemed authorization code's data (the code itself is already deleted)."""

    data: dict[str, Any]

    @property
    def code_challenge(self) -> str | None:
        return self.data.get("code_challenge") or None

    @property
    def code_challenge_method(self) -> str | None:
        return self.data.get("code_challenge_method") or None

    def get_redirect_uri(self) -> str:
        return str(self.data.get("redirect_uri", ""))

    def get_scope(self) -> str:
        return str(self.data.get("scope", ""))

    def get_nonce(self) -> str | None:
        return self.data.get("nonce") or None

    def get_auth_time(self) -> int | None:
        return self.data.get("auth_time")

    def get_acr(self) -> str | None:
        return None

    def get_amr(self) -> list[str] | None:
        return ["pwd"]


@dataclass(slots=True)
class IssuedToken:
    """An access token (verified claims) or a refresh token (stored data), for introspection."""

    kind: str  # "access_token" or "refresh_token"
    claims: dict[str, Any]
    family: str = ""
    revoked: bool = False
    extra: dict[str, Any] = field(default_factory=dict)

    def check_client(self, client: OAuthClient) -> bool:
        return self.claims.get("client_id") == client.get_client_id()

    def get_scope(self) -> str:
        return str(self.claims.get("scope", ""))

    def get_expires_in(self) -> int:
        return max(0, int(self.claims.get("exp", 0)) - int(time.time()))

    def is_expired(self) -> bool:
        return int(self.claims.get("exp", 0)) <= time.time()

    def is_revoked(self) -> bool:
        return self.revoked

    def get_user(self) -> None:
        return None

    def get_client(self) -> None:
        return None


@dataclass(slots=True)
class RefreshToken:
    """A refresh token accepted by authenticate_refresh_token (not yet consumed)."""

    token: str
    family: str
    data: dict[str, Any]

    def check_client(self, client: OAuthClient) -> bool:
        return self.data.get("client_id") == client.get_client_id()

    def get_scope(self) -> str:
        return str(self.data.get("scope", ""))


def user_info(user: User, scope: str) -> dict[str, Any]:
    """OIDC claims of `user` released for `scope`."""
    scopes = set(scope.split())
    info: dict[str, Any] = {"sub": user.id}
    if "profile" in scopes:
        info["name"] = user.display_name or user.username
        info["preferred_username"] = user.username
    if "email" in scopes and user.email:
        info["email"] = user.email
    return info
