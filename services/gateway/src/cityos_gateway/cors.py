"""CORS: preflight answers and the headers for allowed cross-origin requests."""

from __future__ import annotations

from cityos_runtime.problems import ProblemError

from cityos_gateway.http import Response

_EXPOSE = b"NGSILD-Results-Count, NGSILD-Tenant, Link, Location, X-Request-Id, Content-Range"
_ALLOW_METHODS = b"GET, POST, PUT, PATCH, DELETE, OPTIONS"
_ALLOW_HEADERS = (
    b"Accept, Authorization, Content-Type, Link, NGSILD-Tenant, X-Request-Id, traceparent, tracestate"
)
_MAX_AGE = b"600"


class CorsPolicy:
    """Which origins may call the gateway from a browser (GATEWAY_CORS_ORIGINS; empty turns CORS off)."""

    def __init__(self, origins: tuple[str, ...]) -> None:
        self._any = "*" in origins
        self._origins = frozenset(origin.rstrip("/") for origin in origins if origin != "*")
        self.enabled = bool(origins)

    def allows(self, origin: str) -> bool:
        """Whether a browser at `origin` may call the gateway."""
        return self.enabled and bool(origin) and (self._any or origin in self._origins)

    def is_preflight(self, method: str, headers: dict[str, str]) -> bool:
        """A CORS preflight: OPTIONS with Origin and Access-Control-Request-Method."""
        return (
            self.enabled
            and method == "OPTIONS"
            and "origin" in headers
            and "access-control-request-method" in headers
        )

    def preflight(self, origin: str) -> Response:
        """204 with the allowed methods and headers; 403 Forbidden for an origin that is not allowed.

        The origin headers themselves are added to every response by `headers`, preflight included.
        """
        if not self.allows(origin):
            raise ProblemError("Forbidden", f"cross-origin requests from {origin!r} are not allowed")
        return Response(
            204,
            b"",
            [
                (b"access-control-allow-methods", _ALLOW_METHODS),
                (b"access-control-allow-headers", _ALLOW_HEADERS),
                (b"access-control-max-age", _MAX_AGE),
            ],
        )

    def headers(self, origin: str) -> list[tuple[bytes, bytes]]:
        """The headers an allowed cross-origin response carries ([] when the origin is not allowed)."""
        if not self.allows(origin):
            return []
        return [
            (b"access-control-allow-origin", origin.encode("latin-1")),
            (b"access-control-expose-headers", _EXPOSE),
            (b"vary", b"Origin"),
        ]
