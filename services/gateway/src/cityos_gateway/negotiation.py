"""Content negotiation of the NGSI-LD binding: Content-Type, Accept with q-values, the JSON-LD Link header."""

from __future__ import annotations

from cityos.broker.v1 import broker_pb2 as pb
from cityos_runtime.problems import ProblemError

JSON = "application/json"
JSON_LD = "application/ld+json"
GEO_JSON = "application/geo+json"
MERGE_PATCH = "application/merge-patch+json"
JSONLD_CONTEXT_REL = "http://www.w3.org/ns/json-ld#context"

BODY_TYPES = frozenset({JSON, JSON_LD})
MERGE_BODY_TYPES = frozenset({JSON, JSON_LD, MERGE_PATCH})
PLAIN_ACCEPT = (JSON, JSON_LD)
ENTITY_ACCEPT = (JSON, JSON_LD, GEO_JSON)

MEDIA_TYPES: dict[str, pb.MediaType.ValueType] = {
    JSON: pb.MEDIA_TYPE_JSON,
    JSON_LD: pb.MEDIA_TYPE_JSON_LD,
    GEO_JSON: pb.MEDIA_TYPE_GEO_JSON,
}


def media_type(value: str) -> str:
    """The bare, lowercase media type of a Content-Type value (parameters such as charset dropped)."""
    return value.split(";", 1)[0].strip().lower()


def request_content_type(value: str, allowed: frozenset[str]) -> str:
    """Validate a request body's Content-Type, or fail with 415 UnsupportedMediaType."""
    kind = media_type(value)
    if kind not in allowed:
        shown = kind or "none"
        raise ProblemError(
            "UnsupportedMediaType",
            f"Content-Type {shown} is not supported; use {' or '.join(sorted(allowed))}",
        )
    return kind


def negotiate(accept: str, offered: tuple[str, ...]) -> str:
    """Pick the response media type from an Accept header (RFC 9110 q-values), or fail with 406."""
    if not accept.strip():
        return offered[0]
    ranges = _parse_accept(accept)
    best: tuple[float, int, int] | None = None
    chosen = ""
    for preference, candidate in enumerate(offered):
        matching = [
            (specificity, -position, quality)
            for position, (pattern, quality, specificity) in enumerate(ranges)
            if _matches(pattern, candidate)
        ]
        if not matching:
            continue
        # The most specific matching range decides a type's q (RFC 9110, 12.5.1).
        _, neg_position, quality = max(matching)
        if quality <= 0:
            continue
        # Equal q: the client's earlier range wins, then our own preference order.
        score = (quality, neg_position, -preference)
        if best is None or score > best:
            best, chosen = score, candidate
    if best is None:
        raise ProblemError(
            "NotAcceptable", f"none of the accepted media types is available; offered: {', '.join(offered)}"
        )
    return chosen


def _matches(pattern: str, candidate: str) -> bool:
    if pattern in ("*/*", candidate):
        return True
    return pattern.endswith("/*") and candidate.startswith(pattern[:-1])


def _parse_accept(accept: str) -> list[tuple[str, float, int]]:
    """Accept ranges as (pattern, q, specificity) in the client's order."""
    ranges: list[tuple[str, float, int]] = []
    for item in accept.split(","):
        parts = item.split(";")
        pattern = parts[0].strip().lower()
        if not pattern:
            continue
        quality = 1.0
        for param in parts[1:]:
            name, _, value = param.partition("=")
            if name.strip().lower() == "q":
                try:
                    quality = float(value.strip())
                except ValueError:
                    quality = 0.0
        specificity = 0 if pattern == "*/*" else 1 if pattern.endswith("/*") else 2
        ranges.append((pattern, quality, specificity))
    return ranges


def link_context(link: str) -> str:
    """The @context URL of the JSON-LD Link header ("" when absent); 400 when malformed or repeated."""
    found = ""
    for entry in _split_links(link):
        target, params = _parse_link(entry)
        if params.get("rel") != JSONLD_CONTEXT_REL:
            continue
        if found:
            raise ProblemError("BadRequestData", "only one JSON-LD context Link header is allowed")
        kind = params.get("type")
        if kind is not None and kind.lower() != JSON_LD:
            raise ProblemError(
                "BadRequestData", "the JSON-LD context Link must have type application/ld+json"
            )
        if not target:
            raise ProblemError("BadRequestData", "the JSON-LD context Link has no URL")
        found = target
    return found


def _split_links(header: str) -> list[str]:
    """Split a Link header on the commas between entries, not those inside <...> or quotes."""
    entries: list[str] = []
    depth_angle = False
    quoted = False
    start = 0
    for index, char in enumerate(header):
        if char == '"' and not depth_angle:
            quoted = not quoted
        elif char == "<" and not quoted:
            depth_angle = True
        elif char == ">" and not quoted:
            depth_angle = False
        elif char == "," and not quoted and not depth_angle:
            entries.append(header[start:index])
            start = index + 1
    entries.append(header[start:])
    return [entry.strip() for entry in entries if entry.strip()]


def _parse_link(entry: str) -> tuple[str, dict[str, str]]:
    if not entry.startswith("<") or ">" not in entry:
        raise ProblemError("BadRequestData", "malformed Link header: the target must be in <...>")
    target, _, rest = entry[1:].partition(">")
    params: dict[str, str] = {}
    for param in rest.split(";"):
        name, sep, value = param.partition("=")
        if sep:
            params[name.strip().lower()] = value.strip().strip('"')
    return target.strip(), params


def link_header(context_url: str) -> bytes:
    """The Link header value announcing a JSON-LD context."""
    return f'<{context_url}>; rel="{JSONLD_CONTEXT_REL}"; type="{JSON_LD}"'.encode()
