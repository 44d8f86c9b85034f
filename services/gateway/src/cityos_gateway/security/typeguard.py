"""Entity-type restrictions applied to one request: queries narrowed, single entities pre-checked, writes
checked, type discovery filtered.

The broker proto has no "allowed types" field, so reads are narrowed by AND-ing the caller's own type
expression with the allowed types, written as full IRIs so no user @context can re-map them. Operations on
one entity by id cost a type-restricted caller one extra, count-only query. Type names in write bodies and
type discovery are compared as terms, so a restricted caller must use the core @context there (no Link
header, no body @context), else a private @context could rename a forbidden type.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from typing import TYPE_CHECKING, Any

import orjson
from cityos.broker.v1 import broker_pb2 as pb
from cityos_runtime.problems import ProblemError

from cityos_gateway.auth import forbidden
from cityos_gateway.http import Request, Response
from cityos_gateway.security.access import Access

if TYPE_CHECKING:
    from cityos.broker.v1.broker_pb2_grpc import BrokerAsyncStub

# The NGSI-LD core @context's @vocab: where a term it does not define expands to.
DEFAULT_VOCAB = "https://uri.etsi.org/ngsi-ld/default-context/"
ResponseFilter = Callable[[Response], Response]
_ONE_ENTITY = frozenset({"/entities/{id}", "/entities/{id}/attrs", "/entities/{id}/attrs/{attrId}"})


def type_iri(name: str) -> str:
    """A policy's type name as an IRI: short names expand with the core @context's vocabulary."""
    return name if ":" in name else DEFAULT_VOCAB + name


def restriction(types: Iterable[str]) -> str:
    """The allowed types as a type expression of IRIs ("a,b": any of them)."""
    return ",".join(sorted({type_iri(t) for t in types}))


def _allowed(name: object, types: frozenset[str]) -> bool:
    return isinstance(name, str) and type_iri(name) in {type_iri(t) for t in types}


def narrow(expression: str, types: frozenset[str]) -> str:
    """The caller's type expression AND the allowed types."""
    allowed = restriction(types)
    if not expression.strip():
        return allowed
    if not _balanced(expression):
        # "A)|(B" would otherwise close our parenthesis and escape the restriction.
        raise ProblemError("BadRequestData", "the type expression has unbalanced parentheses")
    return f"({expression});({allowed})"


def _balanced(expression: str) -> bool:
    depth = 0
    for char in expression:
        depth += (char == "(") - (char == ")")
        if depth < 0:
            return False
    return depth == 0


class TypeGuard:
    """Applies an Access with type sets to a request before its handler runs."""

    def __init__(self, stub: BrokerAsyncStub, timeout: float) -> None:
        self._stub = stub
        self._timeout = timeout

    async def apply(self, request: Request, access: Access, template: str) -> ResponseFilter | None:
        """Rewrite or check `request`; a filter for the response when it must be trimmed afterwards."""
        write = request.method not in ("GET", "HEAD") and template != "/entityOperations/query"
        if write:
            await self._check_write(request, access.write_types or frozenset(), template)
            return None
        types = access.read_types
        if types is None:
            return None
        if access.read_attrs is not None:
            _limit_attributes(request, access.read_attrs, template)
        if template == "/entities":
            request.query["type"] = narrow(request.query.get("type", ""), types)
        elif template == "/entityOperations/query":
            request.body = _narrow_query_body(request.body, types)
        elif template in _ONE_ENTITY:
            if await self._count(request, [request.path_params[0]], types) == 0:
                raise ProblemError(
                    "ResourceNotFound", f"no entity {request.path_params[0]!r} the caller may read"
                )
        elif template == "/types":
            _core_context_only(request)
            return lambda response: _filter_types(response, types)
        elif template == "/types/{type}":
            _core_context_only(request)
            if not _allowed(request.path_params[0], types):
                raise ProblemError("ResourceNotFound", f"no entity type {request.path_params[0]!r}")
        else:
            raise forbidden("entity-type policies limit this caller; this API cannot be filtered by type")
        return None

    async def _check_write(self, request: Request, types: frozenset[str], template: str) -> None:
        _core_context_only(request)
        body = _json(request.body) if request.body else None
        if isinstance(body, dict) and "@context" in body:
            raise _core_only()
        if template == "/entities":
            _check_types([body], types)
        elif template in _ONE_ENTITY:
            if template == "/entities/{id}" and isinstance(body, dict) and "type" in body:
                _check_types([body], types)
            if await self._count(request, [request.path_params[0]], types) == 0:
                raise forbidden(f"the caller may not write entity {request.path_params[0]!r}")
        elif template.startswith("/entityOperations/"):
            items = body if isinstance(body, list) else []
            if any(isinstance(i, dict) and "@context" in i for i in items):
                raise _core_only()
            ids = [i for i in items if isinstance(i, str)]
            ids += [
                i["id"]
                for i in items
                if isinstance(i, dict) and "type" not in i and isinstance(i.get("id"), str)
            ]
            _check_types([i for i in items if isinstance(i, dict) and "type" in i], types)
            if ids and await self._count(request, ids, types) < len(set(ids)):
                raise forbidden("the batch names entities of types the caller may not write")
        else:
            raise forbidden("entity-type policies limit this caller; this API cannot be filtered by type")

    async def _count(self, request: Request, ids: list[str], types: frozenset[str]) -> int:
        message = pb.QueryEntitiesRequest(
            query=pb.EntityQuery(ids=ids, type=restriction(types)), limit=0, limit_set=True, count=True
        )
        reply = await self._stub.QueryEntities(message, metadata=request.metadata, timeout=self._timeout)
        return int(reply.count)


_ATTRIBUTE_FILTERS = ("q", "scopeQ", "georel", "geometry", "coordinates", "geoproperty", "csf")
_BODY_FILTERS = ("q", "scopeQ", "geoQ", "csf")
_MEMBERS = frozenset({"id", "type"})


def _limit_attributes(request: Request, allowed: frozenset[str], template: str) -> None:
    """Project the response onto the allowed attributes (`pick`); refuse filters on attributes, which
    would reveal values of attributes the caller may not read. Names are compared as core-context terms."""
    _core_context_only(request)
    if template == "/entityOperations/query":
        query = _json(request.body)
        if isinstance(query, dict) and ("@context" in query or any(query.get(f) for f in _BODY_FILTERS)):
            raise forbidden("callers limited to some attributes cannot filter by attributes or use @context")
    elif template not in ("/entities", "/entities/{id}"):
        return  # type discovery: no attribute values
    if any(request.query.get(name) for name in _ATTRIBUTE_FILTERS):
        raise forbidden("callers limited to some attributes cannot filter by attributes")
    if not _names(request.query.get("attrs", "")) <= allowed:
        raise forbidden("attrs names attributes the caller may not read")
    given, permitted = _names(request.query.get("pick", "")), _MEMBERS | allowed
    # An empty intersection must not become "no pick" (which would mean every attribute).
    request.query["pick"] = ",".join(sorted((given & permitted or _MEMBERS) if given else permitted))


def _names(text: str) -> set[str]:
    return {name.strip() for name in text.split(",") if name.strip()}


def _core_only() -> ProblemError:
    return forbidden("callers limited by entity-type policies must use the core @context here")


def _core_context_only(request: Request) -> None:
    if request.header("link"):
        raise _core_only()


def _json(body: bytes) -> Any:
    try:
        return orjson.loads(body)
    except orjson.JSONDecodeError as error:
        raise ProblemError("InvalidRequest", "the body is not valid JSON") from error


def _check_types(entities: list[Any], types: frozenset[str]) -> None:
    for entity in entities:
        if not isinstance(entity, dict):
            continue
        declared = entity.get("type")
        names = declared if isinstance(declared, list) else [declared]
        if not names or not all(_allowed(n, types) for n in names):
            raise forbidden(f"the caller may not write entities of type {declared!r}")


def _narrow_query_body(body: bytes, types: frozenset[str]) -> bytes:
    """AND every entity selector of a Query body with the allowed types (one selector when there are none)."""
    query = _json(body)
    if not isinstance(query, dict):
        return body  # the broker rejects it with the usual 400
    selectors = query.get("entities") or [{}]
    if not isinstance(selectors, list):
        return body
    for selector in selectors:
        if isinstance(selector, dict):
            given = selector.get("type", "")
            selector["type"] = narrow(given if isinstance(given, str) else "", types)
    query["entities"] = selectors
    return orjson.dumps(query)


def _filter_types(response: Response, types: frozenset[str]) -> Response:
    """Keep only allowed types in an EntityTypeList (or the details=true array of EntityType)."""
    if response.status != 200:
        return response
    document = _json(response.body)
    if isinstance(document, dict) and isinstance(document.get("typeList"), list):
        document["typeList"] = [t for t in document["typeList"] if _allowed(t, types)]
    elif isinstance(document, list):
        document = [
            t for t in document if isinstance(t, dict) and _allowed(t.get("typeName", t.get("id")), types)
        ]
    response.body = orjson.dumps(document)
    return response
