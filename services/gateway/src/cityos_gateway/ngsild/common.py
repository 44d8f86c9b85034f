"""Helpers every NGSI-LD handler shares: request bodies, the LdRequest, documents and status responses."""

from __future__ import annotations

from urllib.parse import quote

from cityos.broker.v1 import broker_pb2 as pb
from cityos_runtime.problems import ProblemError

from cityos_gateway.http import CONTENT_TYPE, Request, Response
from cityos_gateway.negotiation import (
    BODY_TYPES,
    JSON,
    JSON_LD,
    MEDIA_TYPES,
    link_context,
    link_header,
    negotiate,
    request_content_type,
)

BASE = "/ngsi-ld/v1"
RESULTS_COUNT = b"ngsild-results-count"
LOCATION = b"location"
LINK = b"link"
_JSON_HEADER = (CONTENT_TYPE, JSON.encode())
# RFC 3986 pchar minus "/": what a path segment may hold without percent-encoding.
_SEGMENT_SAFE = ":@!$&'()*+,;="


def body_ld(request: Request, allowed: frozenset[str] = BODY_TYPES) -> pb.LdRequest:
    """Check a request that needs a body (non-empty, right Content-Type, Link rules) and its LdRequest."""
    kind = request_content_type(request.header("content-type"), allowed)
    if not request.body.strip():
        raise ProblemError("InvalidRequest", "the request needs a JSON body")
    link = link_context(request.header("link"))
    if link and kind == JSON_LD:
        # GS CIM 009 clause 6.3.5: with application/ld+json the @context must be in the body, not a Link.
        raise ProblemError("BadRequestData", "a JSON-LD Link header is not allowed with application/ld+json")
    return pb.LdRequest(content_type=kind, link_context=link)


def header_ld(request: Request) -> pb.LdRequest:
    """The LdRequest of a request without a body: terms resolve through the Link header."""
    return pb.LdRequest(link_context=link_context(request.header("link")))


def accepted(request: Request, offered: tuple[str, ...]) -> tuple[str, pb.MediaType.ValueType]:
    """The negotiated response media type and its proto enum value."""
    chosen = negotiate(request.header("accept"), offered)
    return chosen, MEDIA_TYPES[chosen]


def document(doc: pb.Document, fallback_type: str, status: int = 200) -> Response:
    """A rendered broker Document as the response, with the Link header for plain JSON."""
    kind = doc.content_type or fallback_type
    headers = [(CONTENT_TYPE, kind.encode())]
    if doc.link_context and kind == JSON:
        headers.append((LINK, link_header(doc.link_context)))
    return Response(status, doc.body, headers)


def json_response(status: int, body: bytes) -> Response:
    """A JSON body the gateway assembled itself (207 results, created id lists)."""
    return Response(status, body, [_JSON_HEADER])


def no_content() -> Response:
    """204 No Content."""
    return Response(204)


def created(path: str, item_id: str) -> Response:
    """201 Created with the Location of the new resource."""
    return Response(201, b"", [(LOCATION, f"{BASE}{path}/{quote(item_id, safe=_SEGMENT_SAFE)}".encode())])


def with_count(response: Response, count_asked: bool, count: int) -> Response:
    """Add NGSILD-Results-Count when count=true was asked for."""
    if count_asked:
        response.headers.append((RESULTS_COUNT, str(count).encode()))
    return response
