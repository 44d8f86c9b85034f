"""Introspection (RFC 7662), revocation (RFC 7009) and RP-initiated logout on authlib's endpoints."""

from __future__ import annotations

from typing import Any

from authlib.oauth2.rfc7009 import RevocationEndpoint  # type: ignore[import-untyped]
from authlib.oauth2.rfc7662 import IntrospectionEndpoint  # type: ignore[import-untyped]
from authlib.oidc.rpinitiated import EndSessionEndpoint  # type: ignore[import-untyped]

from cityos_identity.oauth.models import IssuedToken, OAuthClient
from cityos_identity.oauth.provider import Provider
from cityos_identity.tokens import ACCESS_TOKEN_TYP, InvalidToken, TokenVerifier


def find_token(
    provider: Provider, verifier: TokenVerifier, token: str, hint: str | None
) -> IssuedToken | None:
    """An access token (verified JWT) or a refresh token (stored), whatever the hint says."""
    if token.startswith("rt."):
        found = provider.bridge.wait(provider.stores.tokens.peek_refresh(token))
        if found is None:
            return None
        state, family, data = found
        revoked = state != "active" or provider.bridge.wait(provider.stores.tokens.family_revoked(family))
        return IssuedToken("refresh_token", data, family=family, revoked=revoked)
    try:
        claims = provider.bridge.wait(
            verifier.verify(token, typ=ACCESS_TOKEN_TYP, audience=provider.config.audience)
        )
    except InvalidToken:
        return None
    revoked = provider.bridge.wait(provider.stores.tokens.is_revoked(str(claims.get("jti", ""))))
    return IssuedToken("access_token", claims, revoked=revoked)


class Introspection(IntrospectionEndpoint):  # type: ignore[misc]
    """Confidential clients introspect tokens of their own tenant."""

    CLIENT_AUTH_METHODS = ["client_secret_basic", "client_secret_post"]

    def __init__(self, provider: Provider, verifier: TokenVerifier) -> None:
        super().__init__(provider)
        self._verifier = verifier

    def query_token(self, token_string: str, token_type_hint: str | None) -> IssuedToken | None:
        return find_token(self.server, self._verifier, token_string, token_type_hint)

    def check_permission(self, token: IssuedToken, client: OAuthClient, request: Any) -> bool:
        token_client = str(token.claims.get("client_id", ""))
        return token_client == client.get_client_id() or token_client.split(".")[0] == client.record.tenant

    def introspect_token(self, token: IssuedToken) -> dict[str, Any]:
        claims = token.claims
        payload: dict[str, Any] = {
            "active": True,
            "token_type": "Bearer" if token.kind == "access_token" else "refresh_token",
            "client_id": claims.get("client_id"),
            "sub": claims.get("sub"),
            "scope": claims.get("scope", ""),
            "exp": claims.get("exp"),
            "iss": self.server.config.issuer,
        }
        for name in ("iat", "nbf", "aud", "jti", "tenant", "tenants", "roles"):
            if name in claims:
                payload[name] = claims[name]
        return payload


class Revocation(RevocationEndpoint):  # type: ignore[misc]
    """Revoking a refresh token revokes its family; an access token joins the denylist until it expires."""

    CLIENT_AUTH_METHODS = ["client_secret_basic", "client_secret_post", "none"]

    def __init__(self, provider: Provider, verifier: TokenVerifier) -> None:
        super().__init__(provider)
        self._verifier = verifier

    def query_token(self, token_string: str, token_type_hint: str | None) -> IssuedToken | None:
        return find_token(self.server, self._verifier, token_string, token_type_hint)

    def revoke_token(self, token: IssuedToken, request: Any) -> None:
        tokens = self.server.stores.tokens
        if token.kind == "refresh_token":
            self.server.bridge.wait(tokens.revoke_family(token.family))
        else:
            jti, exp = str(token.claims["jti"]), int(token.claims["exp"])
            self.server.bridge.wait(tokens.revoke_access(jti, exp))


class EndSession(EndSessionEndpoint):  # type: ignore[misc]
    """OIDC RP-initiated logout: the session ends; redirects only to a registered logout URI."""

    def get_server_jwks(self) -> dict[str, Any]:
        jwks: dict[str, Any] = self.server.bridge.wait(self.server.keyring.jwks())
        return jwks

    def get_algorithms(self) -> list[str]:
        return ["ES256"]

    def end_session(self, end_session_request: Any) -> None:
        sid = end_session_request.request.http.cookies.get("cityos_session", "")
        if sid:
            self.server.bridge.wait(self.server.stores.tokens.delete_session(sid))
