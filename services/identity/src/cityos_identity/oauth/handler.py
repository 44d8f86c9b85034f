"""`HandleOAuthRequest`: routes a proxied HTTP request to discovery, JWKS, authorize (login and consent
pages), token, introspection, revocation, userinfo or logout."""

from __future__ import annotations

import hmac
import logging
import secrets
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Any
from urllib.parse import urlsplit

from authlib.oauth2 import OAuth2Error  # type: ignore[import-untyped]
from cityos.identity.v1 import identity_pb2 as pb

from cityos_identity.models import User
from cityos_identity.oauth import pages
from cityos_identity.oauth.bridge import Bridge
from cityos_identity.oauth.discovery import metadata
from cityos_identity.oauth.http import BadHttpRequest, Request, Response, html_response, json_response
from cityos_identity.oauth.models import user_info
from cityos_identity.oauth.provider import Provider
from cityos_identity.tokens import ACCESS_TOKEN_TYP, InvalidToken, TokenVerifier
from cityos_identity.usecases.users import UserUseCases

_log = logging.getLogger("cityos.identity.oauth")
SESSION_COOKIE = "cityos_session"
CSRF_COOKIE = "cityos_csrf"
CSRF_TTL = 900
AUTHORIZE = "/oauth2/authorize"

Route = Callable[[Request], Awaitable[Response]]


@dataclass(frozen=True, slots=True)
class _Session:
    sid: str
    user: User
    auth_time: int


class OAuthHandler:
    """The OAuth/OIDC HTTP endpoints; authlib work runs in the bridge's threads."""

    def __init__(
        self,
        provider: Provider,
        verifier: TokenVerifier,
        users: UserUseCases,
        bridge: Bridge,
        *,
        session_ttl: int,
        secure_cookies: bool,
    ) -> None:
        self._provider = provider
        self._verifier = verifier
        self._users = users
        self._bridge = bridge
        self._tokens = provider.stores.tokens
        self._session_ttl = session_ttl
        self._secure = secure_cookies
        self._base_path = urlsplit(provider.config.issuer).path
        # Browser cookies only travel to the OAuth endpoints, never to the data API routes.
        self._cookie_path = self._base_path + "/oauth2"
        self._metadata = metadata(provider.config.issuer)
        self._routes: dict[str, tuple[frozenset[str], Route]] = {
            "/.well-known/openid-configuration": (frozenset({"GET"}), self._discovery),
            "/.well-known/oauth-authorization-server": (frozenset({"GET"}), self._discovery),
            "/oauth2/jwks": (frozenset({"GET"}), self._jwks),
            AUTHORIZE: (frozenset({"GET", "POST"}), self._authorize),
            "/oauth2/token": (frozenset({"POST"}), self._token),
            "/oauth2/introspect": (frozenset({"POST"}), self._introspect),
            "/oauth2/revoke": (frozenset({"POST"}), self._revoke),
            "/oauth2/userinfo": (frozenset({"GET", "POST"}), self._userinfo),
            "/oauth2/logout": (frozenset({"GET", "POST"}), self._logout),
        }

    @property
    def paths(self) -> list[str]:
        """Every path the gateway must forward here."""
        return sorted(self._routes)

    async def handle(self, message: pb.HttpRequest) -> pb.HttpResponse:
        try:
            request = Request.from_proto(message)
        except BadHttpRequest as error:
            return json_response(
                400, {"error": "invalid_request", "error_description": str(error)}
            ).to_proto()
        route = self._routes.get(request.path)
        if route is None:
            return json_response(404, {"error": "not_found"}).to_proto()
        methods, handler = route
        if request.method not in methods:
            allow = ", ".join(sorted(methods))
            return json_response(405, {"error": "method_not_allowed"}, [("Allow", allow)]).to_proto()
        return (await handler(request)).to_proto()

    # ---- metadata ----

    async def _discovery(self, _request: Request) -> Response:
        response = json_response(200, self._metadata)
        response.headers = [h for h in response.headers if h[0] not in {"Cache-Control", "Pragma"}]
        response.headers.append(("Cache-Control", "public, max-age=300"))
        return response

    async def _jwks(self, _request: Request) -> Response:
        response = json_response(200, await self._provider.keyring.jwks())
        response.headers = [h for h in response.headers if h[0] not in {"Cache-Control", "Pragma"}]
        # Short: after a rotation, verifiers refetch on the unknown kid anyway.
        response.headers.append(("Cache-Control", "public, max-age=60"))
        return response

    # ---- token endpoints (authlib) ----

    async def _token(self, request: Request) -> Response:
        response: Response = await self._bridge.call(self._provider.create_token_response, request)
        return response

    async def _introspect(self, request: Request) -> Response:
        response: Response = await self._bridge.call(
            self._provider.create_endpoint_response, "introspection", request
        )
        return response

    async def _revoke(self, request: Request) -> Response:
        response: Response = await self._bridge.call(
            self._provider.create_endpoint_response, "revocation", request
        )
        return response

    async def _logout(self, request: Request) -> Response:
        response: Response | None = await self._bridge.call(
            self._provider.create_endpoint_response, "end_session", request
        )
        if response is None:
            response = html_response(200, pages.signed_out_page())
        response.set_cookie(SESSION_COOKIE, "", max_age=0, secure=self._secure, path=self._cookie_path)
        return response

    async def _userinfo(self, request: Request) -> Response:
        scheme, _, token = request.headers.get("authorization", "").partition(" ")
        if scheme.lower() != "bearer" or not token.strip():
            return _bearer_error(401, "")
        try:
            claims = await self._verifier.verify(
                token.strip(), typ=ACCESS_TOKEN_TYP, audience=self._provider.config.audience
            )
        except InvalidToken:
            return _bearer_error(401, "invalid_token")
        if await self._tokens.is_revoked(str(claims.get("jti", ""))):
            return _bearer_error(401, "invalid_token")
        scope = str(claims.get("scope", ""))
        if "openid" not in scope.split():
            return _bearer_error(403, "insufficient_scope")
        user = await self._provider.stores.directory.get_user(str(claims["sub"]))
        if user is None or user.disabled:
            return _bearer_error(401, "invalid_token")
        return json_response(200, user_info(user, scope))

    # ---- authorization endpoint: login, consent, code ----

    async def _authorize(self, request: Request) -> Response:
        cookies: list[tuple[str, str, int]] = []
        session = await self._session(request)
        try:
            grant = await self._bridge.call(
                self._provider.get_consent_grant, request, session and session.user
            )
        except OAuth2Error as error:
            return self._authorize_error(error)
        data: dict[str, Any] = grant.request.payload.data
        prompts = set(str(data.get("prompt", "")).split())
        action = request.form_value("action") if request.method == "POST" else ""
        if action and not await self._check_csrf(request):
            if session is None or action == "login":
                return await self._login(request, grant, cookies, error="The form expired. Please try again.")
            action = ""  # a stale consent form: show the consent page again
        if action == "login":
            result = await self._users.login(
                request.form_value("username"), request.form_value("password"), client_ip=request.client_ip
            )
            if result.user is None:
                message = "Wrong username or password."
                if result.locked_for:
                    message = f"Too many failed sign-ins. Try again in {max(1, result.locked_for // 60)} min."
                return await self._login(request, grant, cookies, error=message)
            session = await self._start_session(result.user, cookies)
        elif session is None or "login" in prompts:
            if "none" in prompts:
                return self._authorize_error(_oauth_error(grant, "login_required"))
            return await self._login(request, grant, cookies)
        assert session is not None
        client = grant.client
        scopes = str(grant.request.scope or "").split()
        if action == "consent":
            allowed = request.form_value("decision") == "allow"
            if allowed:
                remembered = await self._tokens.remembered_scopes(session.user.id, client.get_client_id())
                await self._tokens.remember_scopes(
                    session.user.id, client.get_client_id(), remembered | set(scopes)
                )
            return self._respond(await self._complete(grant, session if allowed else None), cookies)
        remembered = await self._tokens.remembered_scopes(session.user.id, client.get_client_id())
        if set(scopes) <= remembered and "consent" not in prompts:
            return self._respond(await self._complete(grant, session), cookies)
        if "none" in prompts:
            return self._authorize_error(_oauth_error(grant, "consent_required"))
        csrf = await self._new_csrf(request, cookies)
        page = pages.consent_page(
            action=self._action(request),
            csrf=csrf,
            client_name=client.record.name or client.get_client_id(),
            tenant=client.record.tenant,
            user=session.user.display_name or session.user.username,
            scopes=scopes,
        )
        return self._respond(html_response(200, page), cookies)

    async def _complete(self, grant: Any, session: _Session | None) -> Response:
        grant.request.auth_time = session.auth_time if session else None
        response: Response = await self._bridge.call(
            self._provider.create_authorization_response,
            grant.request,
            session.user if session else None,
            grant,
        )
        return response

    def _authorize_error(self, error: Any) -> Response:
        status, _body, headers = error(None)
        if status == 302:
            return Response(302, b"", [(str(k), str(v)) for k, v in headers])
        detail = getattr(error, "description", "") or getattr(error, "error", "invalid request")
        return html_response(400, pages.error_page("Cannot sign in", str(detail)))

    async def _login(
        self, request: Request, grant: Any, cookies: list[tuple[str, str, int]], *, error: str = ""
    ) -> Response:
        csrf = await self._new_csrf(request, cookies)
        client = grant.client
        page = pages.login_page(
            action=self._action(request),
            csrf=csrf,
            client_name=client.record.name or client.get_client_id(),
            username=request.form_value("username"),
            error=error,
        )
        return self._respond(html_response(401 if error else 200, page), cookies)

    def _respond(self, response: Response, cookies: list[tuple[str, str, int]]) -> Response:
        """`response` with the cookies this request set (HttpOnly, SameSite=Lax, under /oauth2)."""
        for name, value, max_age in cookies:
            response.set_cookie(name, value, max_age=max_age, secure=self._secure, path=self._cookie_path)
        return response

    def _action(self, request: Request) -> str:
        return self._base_path + AUTHORIZE + (f"?{request.query_string}" if request.query_string else "")

    # ---- sessions and CSRF ----

    async def _session(self, request: Request) -> _Session | None:
        sid = request.cookies.get(SESSION_COOKIE, "")
        data = await self._tokens.get_session(sid) if sid else None
        if not data:
            return None
        user = await self._provider.stores.directory.get_user(str(data.get("sub", "")))
        if user is None or user.disabled:
            return None
        return _Session(sid, user, int(data.get("auth_time", 0)))

    async def _start_session(self, user: User, cookies: list[tuple[str, str, int]]) -> _Session:
        sid = secrets.token_urlsafe(32)
        now = int(time.time())
        await self._tokens.save_session(sid, {"sub": user.id, "auth_time": now}, self._session_ttl)
        cookies.append((SESSION_COOKIE, sid, self._session_ttl))
        return _Session(sid, user, now)

    async def _new_csrf(self, request: Request, cookies: list[tuple[str, str, int]]) -> str:
        """A single-use form token bound to this browser's CSRF cookie (synchronizer token pattern)."""
        binding = request.cookies.get(CSRF_COOKIE, "")
        if len(binding) < 20:
            binding = secrets.token_urlsafe(24)
            cookies.append((CSRF_COOKIE, binding, self._session_ttl))
        token = secrets.token_urlsafe(24)
        await self._tokens.save_csrf(token, binding, CSRF_TTL)
        return token

    async def _check_csrf(self, request: Request) -> bool:
        token, binding = request.form_value("csrf_token"), request.cookies.get(CSRF_COOKIE, "")
        if not token or not binding:
            return False
        stored = await self._tokens.take_csrf(token)
        return stored is not None and hmac.compare_digest(stored, binding)


def _bearer_error(status: int, error: str) -> Response:
    challenge = 'Bearer realm="cityos"' + (f', error="{error}"' if error else "")
    body = {"error": error or "invalid_request"}
    return json_response(status, body, [("WWW-Authenticate", challenge)])


def _oauth_error(grant: Any, name: str) -> Any:
    """An OIDC error (login_required, consent_required) redirected to the validated redirect URI."""
    from authlib.oidc.core.errors import ConsentRequiredError, LoginRequiredError  # type: ignore[import-untyped]

    cls = LoginRequiredError if name == "login_required" else ConsentRequiredError
    error = cls(redirect_uri=grant.redirect_uri, redirect_fragment=False)
    error.state = grant.request.payload.state
    return error
