"""The gateway's request and response values and the ProblemDetails response."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from cityos_runtime.problems import ProblemError

# NGSI-LD (GS CIM 009, clause 6.3.6) sends ProblemDetails with the application/json media type.
JSON = b"application/json"
CONTENT_TYPE = b"content-type"
_PROBLEM_HEADERS = ((CONTENT_TYPE, JSON),)


@dataclass(slots=True)
class Request:
    """One HTTP request as the handlers see it: decoded headers, query and path parameters, body."""

    method: str
    path: str
    headers: dict[str, str]
    query: dict[str, str]
    path_params: tuple[str, ...] = ()
    body: bytes = b""
    request_id: str = ""
    tenant: str = ""
    tenant_given: bool = False
    route: str = ""
    metadata: tuple[tuple[str, str], ...] = ()
    state: dict[str, Any] = field(default_factory=dict)
    # The ASGI header pairs as sent (repeats kept: several Cookie headers), the raw query string and the
    # peer address: only the OAuth proxy forwards them.
    raw_headers: list[tuple[bytes, bytes]] = field(default_factory=list)
    query_string: str = ""
    client_ip: str = ""

    def header(self, name: str) -> str:
        """The header's value ("" when absent); `name` is lowercase."""
        return self.headers.get(name, "")


@dataclass(slots=True)
class Response:
    """A complete response: status, raw header pairs and the body bytes."""

    status: int
    body: bytes = b""
    headers: list[tuple[bytes, bytes]] = field(default_factory=list)


def problem_response(problem: ProblemError) -> Response:
    """Render a ProblemError as the NGSI-LD error response."""
    headers = list(_PROBLEM_HEADERS)
    # AuthProblem (cityos_gateway.auth) carries WWW-Authenticate / Retry-After.
    for name, value in getattr(problem, "headers", ()):
        headers.append((name.encode("latin-1"), value.encode("latin-1")))
    return Response(problem.status, problem.to_json(), headers)


def parse_headers(raw: list[tuple[bytes, bytes]] | tuple[tuple[bytes, bytes], ...]) -> dict[str, str]:
    """Decode ASGI headers into a dict; repeated headers are joined with ", " as RFC 9110 allows."""
    headers: dict[str, str] = {}
    for name, value in raw:
        key = name.decode("latin-1").lower()
        text = value.decode("latin-1")
        headers[key] = f"{headers[key]}, {text}" if key in headers else text
    return headers
