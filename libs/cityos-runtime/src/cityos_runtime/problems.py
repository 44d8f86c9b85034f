"""RFC 9457 ProblemDetails with the NGSI-LD error types, and their mapping to and from gRPC status."""

from __future__ import annotations

from typing import Any, NoReturn

import grpc
import orjson

from cityos_runtime.metadata import PROBLEM, metadata_value

NGSILD_ERRORS = "https://uri.etsi.org/ngsi-ld/errors/"

# NGSI-LD error type -> HTTP status (ETSI GS CIM 009, clause 5.5.2 and annex on errors).
NGSILD_STATUS: dict[str, int] = {
    "InvalidRequest": 400,
    "BadRequestData": 400,
    "AlreadyExists": 409,
    "OperationNotSupported": 422,
    "ResourceNotFound": 404,
    "InternalError": 500,
    "TooComplexQuery": 403,
    "TooManyResults": 403,
    "LdContextNotAvailable": 503,
    "NoMultiTenantSupport": 501,
    "NonexistentTenant": 404,
    "Conflict": 409,
    "UnsupportedMediaType": 415,
    "NotAcceptable": 406,
    "PayloadTooLarge": 413,
    "Unauthorized": 401,
    "Forbidden": 403,
    "TooManyRequests": 429,
    "MethodNotAllowed": 405,
    "Timeout": 504,
}

_GRPC_BY_STATUS: dict[int, grpc.StatusCode] = {
    400: grpc.StatusCode.INVALID_ARGUMENT,
    401: grpc.StatusCode.UNAUTHENTICATED,
    403: grpc.StatusCode.PERMISSION_DENIED,
    404: grpc.StatusCode.NOT_FOUND,
    405: grpc.StatusCode.UNIMPLEMENTED,
    406: grpc.StatusCode.INVALID_ARGUMENT,
    409: grpc.StatusCode.ALREADY_EXISTS,
    413: grpc.StatusCode.RESOURCE_EXHAUSTED,
    415: grpc.StatusCode.INVALID_ARGUMENT,
    422: grpc.StatusCode.FAILED_PRECONDITION,
    429: grpc.StatusCode.RESOURCE_EXHAUSTED,
    501: grpc.StatusCode.UNIMPLEMENTED,
    503: grpc.StatusCode.UNAVAILABLE,
    504: grpc.StatusCode.DEADLINE_EXCEEDED,
}

# gRPC status -> (NGSI-LD error type, HTTP status) for errors that carry no ProblemDetails.
_BY_GRPC: dict[grpc.StatusCode, tuple[str, int]] = {
    grpc.StatusCode.INVALID_ARGUMENT: ("BadRequestData", 400),
    grpc.StatusCode.NOT_FOUND: ("ResourceNotFound", 404),
    grpc.StatusCode.ALREADY_EXISTS: ("AlreadyExists", 409),
    grpc.StatusCode.PERMISSION_DENIED: ("Forbidden", 403),
    grpc.StatusCode.UNAUTHENTICATED: ("Unauthorized", 401),
    grpc.StatusCode.UNIMPLEMENTED: ("OperationNotSupported", 501),
    grpc.StatusCode.UNAVAILABLE: ("InternalError", 503),
    grpc.StatusCode.DEADLINE_EXCEEDED: ("Timeout", 504),
    grpc.StatusCode.RESOURCE_EXHAUSTED: ("TooManyRequests", 429),
    grpc.StatusCode.FAILED_PRECONDITION: ("OperationNotSupported", 422),
}


class ProblemError(Exception):
    """A failure the caller should see as a ProblemDetails document.

    `kind` is an NGSI-LD error type name (e.g. "BadRequestData") or a full type URI.
    """

    def __init__(
        self, kind: str, detail: str, *, status: int | None = None, title: str | None = None, **extra: Any
    ) -> None:
        super().__init__(detail)
        self.kind = kind
        self.detail = detail
        self.status = status if status is not None else NGSILD_STATUS.get(kind, 400)
        self.title = title or _title(kind)
        self.extra = extra

    @property
    def type_uri(self) -> str:
        return self.kind if ":" in self.kind else NGSILD_ERRORS + self.kind

    def to_dict(self) -> dict[str, Any]:
        doc: dict[str, Any] = {
            "type": self.type_uri,
            "title": self.title,
            "status": self.status,
            "detail": self.detail,
        }
        doc.update(self.extra)
        return doc

    def to_json(self) -> bytes:
        return orjson.dumps(self.to_dict())

    @classmethod
    def from_dict(cls, doc: dict[str, Any]) -> ProblemError:
        type_uri = str(doc.get("type", NGSILD_ERRORS + "InternalError"))
        kind = type_uri.removeprefix(NGSILD_ERRORS) if type_uri.startswith(NGSILD_ERRORS) else type_uri
        extra = {k: v for k, v in doc.items() if k not in {"type", "title", "status", "detail"}}
        return cls(
            kind,
            str(doc.get("detail", "")),
            status=int(doc.get("status", NGSILD_STATUS.get(kind, 500))),
            title=str(doc["title"]) if "title" in doc else None,
            **extra,
        )

    def __repr__(self) -> str:
        return f"ProblemError({self.kind!r}, {self.detail!r}, status={self.status})"


def _title(kind: str) -> str:
    name = kind.rsplit("/", 1)[-1]
    return "".join(" " + c.lower() if c.isupper() and i else c for i, c in enumerate(name))


def grpc_code(problem: ProblemError) -> grpc.StatusCode:
    """The gRPC status code that best matches a problem's HTTP status."""
    return _GRPC_BY_STATUS.get(problem.status, grpc.StatusCode.UNKNOWN)


async def abort_with_problem(context: grpc.aio.ServicerContext, problem: ProblemError) -> NoReturn:
    """End a gRPC call with the problem in trailing metadata, so the gateway can show it as is."""
    await context.abort(grpc_code(problem), problem.detail, trailing_metadata=((PROBLEM, problem.to_json()),))
    raise AssertionError("context.abort returned")  # pragma: no cover - abort always raises


def problem_from_rpc_error(error: grpc.aio.AioRpcError) -> ProblemError:
    """Turn a failed gRPC call into the ProblemDetails the caller should see."""
    raw = metadata_value(error.trailing_metadata(), PROBLEM) if error.trailing_metadata() else ""
    if raw:
        try:
            doc = orjson.loads(raw)
            if isinstance(doc, dict):
                return ProblemError.from_dict(doc)
        except orjson.JSONDecodeError:
            pass
    kind, status = _BY_GRPC.get(error.code(), ("InternalError", 500))
    if error.code() == grpc.StatusCode.UNAVAILABLE:
        return ProblemError("InternalError", "a backing service is unavailable", status=503)
    detail = error.details() or "" if status < 500 else "internal error"
    return ProblemError(kind, detail, status=status)
