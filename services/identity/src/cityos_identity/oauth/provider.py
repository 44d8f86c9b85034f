"""authlib's AuthorizationServer adapted to proxied requests, with our grants, tokens and endpoints.

Everything here runs in a worker thread (authlib is synchronous) and reaches Redis via `Bridge.wait`.
"""

from __future__ import annotations

import base64
import logging
import secrets
import time
from collections import defaultdict
from dataclasses import dataclass
from typing import Any

import orjson
from authlib.oauth2 import AuthorizationServer, OAuth2Request  # type: ignore[import-untyped]
from authlib.oauth2.rfc6749 import (  # type: ignore[import-untyped]
    InvalidGrantError,
    InvalidRequestError,
    InvalidScopeError,
    JsonPayload,
    JsonRequest,
    OAuth2Payload,
    grants,
)
from authlib.oauth2.rfc7636 import CodeChallenge  # type: ignore[import-untyped]
from authlib.oidc.core import OpenIDCode  # type: ignore[import-untyped]
from authlib.oidc.core.util import create_half_hash  # type: ignore[import-untyped]

from cityos_identity.keyring import Keyring
from cityos_identity.models import API_SCOPES, OIDC_SCOPES, User
from cityos_identity.oauth.bridge import Bridge
from cityos_identity.oauth.http import Request, Response
from cityos_identity.oauth.models import AuthorizationCode, OAuthClient, RefreshToken, user_info
from cityos_identity.stores import Stores
from cityos_identity.tokens import ACCESS_TOKEN_TYP, ID_TOKEN_TYP, Grant, access_token_claims

_log = logging.getLogger("cityos.identity.oauth")
CODE_TTL = 300
ID_TOKEN_TTL = 3600


@dataclass(frozen=True, slots=True)
class ProviderConfig:
    issuer: str
    audience: str
    access_token_ttl: int
    refresh_token_ttl: int


class _Payload(OAuth2Payload):  # type: ignore[misc]
    def __init__(self, pairs: list[tuple[str, str]]) -> None:
        self._data, self._datalist = Request.multidict(pairs)

    @property
    def data(self) -> dict[str, str]:
        return self._data

    @property
    def datalist(self) -> defaultdict[str, list[str]]:
        return self._datalist


class ProxiedRequest(OAuth2Request):  # type: ignore[misc]
    """An OAuth2Request over a proxied HTTP request; OAuth parameters come from `pairs`."""

    def __init__(self, http: Request, uri: str, pairs: list[tuple[str, str]]) -> None:
        super().__init__(method=http.method, uri=uri, headers=http.headers)
        self.http = http
        self.payload = _Payload(pairs)

    @property
    def args(self) -> dict[str, str]:
        return dict(self.http.query)

    @property
    def form(self) -> dict[str, str]:
        return Request.multidict(self.http.form)[0]


class _JsonRequest(JsonRequest):  # type: ignore[misc]
    def __init__(self, http: Request, uri: str) -> None:
        super().__init__(http.method, uri, http.headers)
        self.payload = JsonPayload()


class Provider(AuthorizationServer):  # type: ignore[misc]
    """The authorization server: grants (code + PKCE S256, refresh with rotation, client credentials)."""

    def __init__(self, config: ProviderConfig, stores: Stores, keyring: Keyring, bridge: Bridge) -> None:
        super().__init__(scopes_supported=[*OIDC_SCOPES, *API_SCOPES])
        self.config = config
        self.stores = stores
        self.keyring = keyring
        self.bridge = bridge
        self.register_token_generator("default", self._generate_token)
        self.register_grant(CodeGrant, [S256Challenge(required=True), IdToken(require_nonce=False)])
        self.register_grant(RefreshGrant)
        self.register_grant(ClientCredentialsGrant)

    # ---- framework adapter ----

    def create_oauth2_request(self, request: Any) -> OAuth2Request:
        if isinstance(request, OAuth2Request):
            return request
        http: Request = request
        pairs = http.form if http.method == "POST" and http.path != "/oauth2/authorize" else http.query
        return ProxiedRequest(http, self.uri(http), pairs)

    def create_json_request(self, request: Any) -> JsonRequest:
        return _JsonRequest(request, self.uri(request))

    def handle_response(self, status: int, body: Any, headers: Any) -> Response:
        raw = orjson.dumps(body) if isinstance(body, dict) else str(body or "").encode()
        return Response(status, raw, [(str(k), str(v)) for k, v in headers])

    def send_signal(self, name: str, *args: Any, **kwargs: Any) -> None:
        """authlib's signals are not used (the audit trail is the structured log)."""

    def uri(self, http: Request) -> str:
        return self.config.issuer + http.path + (f"?{http.query_string}" if http.query_string else "")

    # ---- lookups and token issuance ----

    def query_client(self, client_id: str) -> OAuthClient | None:
        """The client, unless unknown or its tenant is suspended or deleted."""
        client = self.bridge.wait(self.stores.principals.get_client(client_id or ""))
        if client is None:
            return None
        tenant = self.bridge.wait(self.stores.directory.get_tenant(client.tenant))
        return OAuthClient(client) if tenant is not None and tenant.state == "active" else None

    def load_user(self, user_id: str) -> User | None:
        user = self.bridge.wait(self.stores.directory.get_user(user_id))
        return user if user is not None and not user.disabled else None

    def _grant_of(self, client: OAuthClient, user: User | None, scope: str) -> Grant:
        record = client.record
        if user is None:  # client_credentials: the client acts for itself in its tenant
            tenant_roles: dict[str, list[str]] = {record.tenant: list(record.roles)}
            subject, platform_admin = record.client_id, False
        else:
            # A resident membership elsewhere gives no access through this client; staff roles
            # (tenant-admin, developer, extensions) carry over, e.g. into the operator console.
            tenant_roles = {
                t: list(r) for t, r in user.memberships.items() if t == record.tenant or set(r) - {"resident"}
            }
            tenant_roles.setdefault(record.tenant, [])
            subject, platform_admin = user.id, user.platform_admin
        requested = scope.split() or (
            [s for s in record.scopes if s not in OIDC_SCOPES] if user is None else []
        )
        scopes = [s for s in requested if s in record.scopes]
        may_admin = platform_admin or any("tenant-admin" in r for r in tenant_roles.values())
        if not may_admin:
            scopes = [s for s in scopes if s != "admin"]
        return Grant(subject, record.client_id, tuple(scopes), record.tenant, tenant_roles, platform_admin)

    def _generate_token(
        self,
        grant_type: str,
        client: OAuthClient,
        user: User | None = None,
        scope: str | None = None,
        expires_in: int | None = None,
        include_refresh_token: bool = True,
    ) -> dict[str, Any]:
        grant = self._grant_of(client, user, scope or "")
        claims = access_token_claims(
            grant,
            issuer=self.config.issuer,
            audience=self.config.audience,
            now=int(time.time()),
            ttl=self.config.access_token_ttl,
        )
        token: dict[str, Any] = {
            "token_type": "Bearer",
            "access_token": self.bridge.wait(self.keyring.sign(claims, typ=ACCESS_TOKEN_TYP)),
            "expires_in": self.config.access_token_ttl,
            "scope": claims["scope"],
        }
        if include_refresh_token and user is not None:
            token["refresh_token"] = "rt." + secrets.token_urlsafe(32)
        return token

    def save_token(self, token: dict[str, Any], request: OAuth2Request) -> None:
        """Persist the refresh token (rotating the presented one atomically) and index the access token."""
        refresh = token.get("refresh_token")
        if not refresh:
            return
        old: RefreshToken | None = request.refresh_token
        if old is not None:
            outcome, _ = self.bridge.wait(self.stores.tokens.consume_refresh(old.token))
            if outcome != "ok":
                _log.warning("refresh token reuse", extra={"event": "refresh_reuse", "family": old.family})
                raise InvalidGrantError("the refresh token was already used; its family is revoked")
            family, auth_time = old.family, old.data.get("auth_time")
        else:
            family, auth_time = secrets.token_hex(16), int(time.time())
        claims = _unverified_claims(token["access_token"])
        data = {
            "client_id": claims["client_id"],
            "sub": claims["sub"],
            # A narrowed refresh keeps the originally granted scope for later refreshes (RFC 6749 §6).
            "scope": old.get_scope() if old is not None else claims["scope"],
            "auth_time": auth_time,
            "exp": int(time.time()) + self.config.refresh_token_ttl,
        }
        ttl = self.config.refresh_token_ttl
        self.bridge.wait(self.stores.tokens.save_refresh(refresh, family, data, ttl))
        self.bridge.wait(self.stores.tokens.add_family_access(family, claims["jti"], claims["exp"], ttl))


def _check_client_scopes(client: OAuthClient, scope: str | None, redirect_uri: str | None = None) -> None:
    """Refuse scopes the client is not registered for, rather than silently dropping them."""
    extra = set((scope or "").split()) - set(client.record.scopes)
    if extra:
        raise InvalidScopeError(f"the client may not request {sorted(extra)}", redirect_uri=redirect_uri)


def _unverified_claims(token: str) -> dict[str, Any]:
    """Claims of a JWT this process just signed (no verification needed)."""
    segment = token.split(".")[1]
    claims: dict[str, Any] = orjson.loads(base64.urlsafe_b64decode(segment + "=" * (-len(segment) % 4)))
    return claims


class S256Challenge(CodeChallenge):  # type: ignore[misc]
    """PKCE with S256 only; mandatory for public clients already at the authorization request."""

    SUPPORTED_CODE_CHALLENGE_METHOD = ["S256"]
    DEFAULT_CODE_CHALLENGE_METHOD = "S256"

    def validate_code_challenge(self, grant: Any, redirect_uri: str) -> None:
        request = grant.request
        challenge = request.payload.data.get("code_challenge")
        method = request.payload.data.get("code_challenge_method")
        client: OAuthClient = request.client
        if not challenge and not client.record.confidential:
            raise InvalidRequestError("PKCE is required: send code_challenge with code_challenge_method=S256")
        if challenge and method != "S256":
            raise InvalidRequestError("code_challenge_method must be S256")
        super().validate_code_challenge(grant, redirect_uri)


class IdToken(OpenIDCode):  # type: ignore[misc]
    """ID tokens signed by the keyring (ES256, kid from the current key)."""

    def exists_nonce(self, nonce: str, request: OAuth2Request) -> bool:
        # Codes are single use (GETDEL), so a nonce cannot be replayed through the same code.
        return False

    def generate_user_info(self, user: User, scope: str) -> dict[str, Any]:
        return user_info(user, scope)

    def process_token(self, grant: Any, response: Any) -> dict[str, Any]:
        """Add an ID token when the `openid` scope was granted."""
        _, token, _ = response
        if "openid" in str(token.get("scope", "")).split():
            token["id_token"] = self._id_token(grant.server, token, grant.request)
        return token  # type: ignore[no-any-return]

    def _id_token(self, provider: Provider, token: dict[str, Any], request: OAuth2Request) -> str:
        now = int(time.time())
        code: AuthorizationCode = request.authorization_code
        claims: dict[str, Any] = {
            "iss": provider.config.issuer,
            "aud": request.client.get_client_id(),
            "iat": now,
            "exp": now + ID_TOKEN_TTL,
            "auth_time": code.get_auth_time() or now,
            "amr": ["pwd"],
        }
        if nonce := code.get_nonce():
            claims["nonce"] = nonce
        if at_hash := create_half_hash(token["access_token"], "ES256"):
            claims["at_hash"] = at_hash.decode()
        claims.update(user_info(request.user, token["scope"]))
        return provider.bridge.wait(provider.keyring.sign(claims, typ=ID_TOKEN_TYP))


class CodeGrant(grants.AuthorizationCodeGrant):  # type: ignore[misc]
    TOKEN_ENDPOINT_AUTH_METHODS = ["client_secret_basic", "client_secret_post", "none"]

    def validate_authorization_request(self) -> str:
        redirect_uri: str = super().validate_authorization_request()
        _check_client_scopes(self.request.client, self.request.payload.scope, redirect_uri)
        return redirect_uri

    def save_authorization_code(self, code: str, request: OAuth2Request) -> None:
        provider: Provider = self.server
        data = request.payload.data
        user: User = request.user
        record = {
            "client_id": request.client.get_client_id(),
            "redirect_uri": data.get("redirect_uri", ""),
            "scope": request.scope or "",
            "sub": user.id,
            "nonce": data.get("nonce", ""),
            "code_challenge": data.get("code_challenge", ""),
            "code_challenge_method": data.get("code_challenge_method", ""),
            "auth_time": getattr(request, "auth_time", None) or int(time.time()),
        }
        provider.bridge.wait(provider.stores.tokens.save_code(code, record, CODE_TTL))

    def query_authorization_code(self, code: str, client: OAuthClient) -> AuthorizationCode | None:
        provider: Provider = self.server
        data = provider.bridge.wait(provider.stores.tokens.take_code(code))
        if data is None or data.get("client_id") != client.get_client_id():
            return None
        return AuthorizationCode(data)

    def delete_authorization_code(self, authorization_code: AuthorizationCode) -> None:
        """Nothing to do: query_authorization_code already deleted the code (single use)."""

    def authenticate_user(self, authorization_code: AuthorizationCode) -> User | None:
        provider: Provider = self.server
        return provider.load_user(str(authorization_code.data.get("sub", "")))


class RefreshGrant(grants.RefreshTokenGrant):  # type: ignore[misc]
    """Refresh tokens rotate on every use; presenting a used one revokes its whole family."""

    TOKEN_ENDPOINT_AUTH_METHODS = ["client_secret_basic", "client_secret_post", "none"]
    INCLUDE_NEW_REFRESH_TOKEN = True

    def authenticate_refresh_token(self, refresh_token: str) -> RefreshToken | None:
        provider: Provider = self.server
        found = provider.bridge.wait(provider.stores.tokens.peek_refresh(refresh_token))
        if found is None:
            return None
        state, family, data = found
        if state != "active":
            # A used token came back: either the client or an attacker holds a stolen copy.
            provider.bridge.wait(provider.stores.tokens.consume_refresh(refresh_token))
            _log.warning("refresh token reuse", extra={"event": "refresh_reuse", "family": family})
            return None
        if provider.bridge.wait(provider.stores.tokens.family_revoked(family)):
            return None
        return RefreshToken(refresh_token, family, data)

    def authenticate_user(self, refresh_token: RefreshToken) -> User | None:
        provider: Provider = self.server
        return provider.load_user(str(refresh_token.data.get("sub", "")))

    def revoke_old_credential(self, refresh_token: RefreshToken) -> None:
        """Nothing to do: save_token consumed the old token atomically before storing the new one."""


class ClientCredentialsGrant(grants.ClientCredentialsGrant):  # type: ignore[misc]
    TOKEN_ENDPOINT_AUTH_METHODS = ["client_secret_basic", "client_secret_post"]

    def validate_token_request(self) -> None:
        super().validate_token_request()
        _check_client_scopes(self.request.client, self.request.payload.scope)
