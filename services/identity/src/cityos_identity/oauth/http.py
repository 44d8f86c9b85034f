"""The proxied HTTP exchange: parsed requests (query, form, cookies) and response builders."""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass, field
from http.cookies import CookieError, SimpleCookie
from typing import Any
from urllib.parse import parse_qsl

import orjson
from cityos.identity.v1 import identity_pb2 as pb

MAX_BODY = 64 * 1024
FORM = "application/x-www-form-urlencoded"
_NO_STORE = [("Cache-Control", "no-store"), ("Pragma", "no-cache")]
# The login and consent pages load nothing from elsewhere and must never be framed (clickjacking).
# No `form-action`: browsers apply it to the redirect that follows the consent form, and that redirect
# goes to the client's (other-origin) redirect URI.
_PAGE_SECURITY = [
    (
        "Content-Security-Policy",
        "default-src 'none'; style-src 'unsafe-inline'; frame-ancestors 'none'; base-uri 'none'",
    ),
    ("X-Frame-Options", "DENY"),
    ("Referrer-Policy", "no-referrer"),
    ("X-Content-Type-Options", "nosniff"),
]


class Headers(dict[str, str]):
    """Header names stored lower-case and looked up case-insensitively (authlib asks "Authorization")."""

    def __getitem__(self, name: str) -> str:
        return super().__getitem__(name.lower())

    def __contains__(self, name: object) -> bool:
        return isinstance(name, str) and super().__contains__(name.lower())

    def get(self, name: str, default: Any = None) -> Any:
        return super().get(name.lower(), default)


class BadHttpRequest(Exception):
    """The proxied request cannot be parsed (body too large, bad encoding)."""


def _pairs(text: str) -> list[tuple[str, str]]:
    try:
        return parse_qsl(text, keep_blank_values=True, strict_parsing=False, max_num_fields=200)
    except ValueError as error:
        raise BadHttpRequest("too many parameters") from error


@dataclass(slots=True)
class Request:
    """A proxied HTTP request with its parameters decoded once."""

    method: str
    path: str
    query_string: str
    headers: Headers
    query: list[tuple[str, str]]
    form: list[tuple[str, str]]
    cookies: dict[str, str]
    client_ip: str = ""

    @classmethod
    def from_proto(cls, message: pb.HttpRequest) -> Request:
        if len(message.body) > MAX_BODY:
            raise BadHttpRequest("request body too large")
        headers = Headers()
        for header in message.headers:
            name = header.name.lower()
            headers[name] = f"{headers[name]}, {header.value}" if name in headers else header.value
        form: list[tuple[str, str]] = []
        if message.body and headers.get("content-type", "").split(";")[0].strip().lower() == FORM:
            try:
                form = _pairs(message.body.decode("utf-8"))
            except UnicodeDecodeError as error:
                raise BadHttpRequest("the form body is not UTF-8") from error
        cookies: dict[str, str] = {}
        if raw := headers.get("cookie"):
            jar: SimpleCookie = SimpleCookie()
            try:
                jar.load(raw.replace(", ", "; "))
            except CookieError:
                jar = SimpleCookie()
            cookies = {k: morsel.value for k, morsel in jar.items()}
        return cls(
            method=message.method.upper(),
            path=message.path,
            query_string=message.query,
            headers=headers,
            query=_pairs(message.query),
            form=form,
            cookies=cookies,
            client_ip=message.client_ip,
        )

    def query_value(self, name: str) -> str:
        return next((v for k, v in self.query if k == name), "")

    def form_value(self, name: str) -> str:
        return next((v for k, v in self.form if k == name), "")

    def param(self, name: str) -> str:
        """A form field, else a query parameter."""
        return self.form_value(name) or self.query_value(name)

    @staticmethod
    def multidict(pairs: list[tuple[str, str]]) -> tuple[dict[str, str], defaultdict[str, list[str]]]:
        """(first value per name, every value per name), the shapes authlib's payloads expose."""
        first: dict[str, str] = {}
        every: defaultdict[str, list[str]] = defaultdict(list)
        for key, value in pairs:
            first.setdefault(key, value)
            every[key].append(value)
        return first, every


@dataclass(slots=True)
class Response:
    """An HTTP response to send back through the gateway."""

    status: int
    body: bytes = b""
    headers: list[tuple[str, str]] = field(default_factory=list)

    def to_proto(self) -> pb.HttpResponse:
        return pb.HttpResponse(
            status=self.status,
            body=self.body,
            headers=[pb.HttpHeader(name=k, value=v) for k, v in self.headers],
        )

    def set_cookie(self, name: str, value: str, *, max_age: int, secure: bool, path: str = "/") -> None:
        attrs = f"{name}={value}; Path={path}; Max-Age={max_age}; HttpOnly; SameSite=Lax"
        self.headers.append(("Set-Cookie", attrs + ("; Secure" if secure else "")))


def json_response(status: int, body: Any, headers: list[tuple[str, str]] | None = None) -> Response:
    return Response(
        status, orjson.dumps(body), [("Content-Type", "application/json"), *_NO_STORE, *(headers or [])]
    )


def html_response(status: int, page: str) -> Response:
    return Response(
        status, page.encode(), [("Content-Type", "text/html; charset=utf-8"), *_NO_STORE, *_PAGE_SECURITY]
    )


def redirect(location: str) -> Response:
    return Response(302, b"", [("Location", location), *_NO_STORE])
