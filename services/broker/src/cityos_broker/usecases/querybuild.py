"""Turn a QueryEntities request (GET parameters or a POST Query body) into an entity filter."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, replace
from typing import Any

from cityos.broker.v1 import broker_pb2 as pb
from cityos_runtime.problems import ProblemError

from cityos_broker.ngsild.contexts import TermMap
from cityos_broker.query.filter import EntityFilter, IndexCount, IndexPlan
from cityos_broker.query.geo import GeoQuery, parse_geo_query
from cityos_broker.usecases.support import Support, parse_object


@dataclass(frozen=True, slots=True)
class BuiltQuery:
    """A query's filter, whether the index plan alone is exact, and the body's projection and lang."""

    filter: EntityFilter | AnyOfFilter
    exact: bool
    projection: tuple[str, ...] = ()
    lang: str = ""


class AnyOfFilter:
    """Several entity selectors of one Query body (`entities` list): an entity matches if any does."""

    def __init__(self, filters: Sequence[EntityFilter]) -> None:
        self._filters = list(filters)

    def matches(self, entity: Mapping[str, Any]) -> bool:
        return any(f.matches(entity) for f in self._filters)

    def count_plan(self) -> IndexCount | None:
        """Several selectors are never counted from the indexes alone."""
        return None

    def plan(self) -> IndexPlan:
        """Selectors differ only in id / idPattern / type; the shared selectors narrow as for one filter."""
        plans = [f.plan() for f in self._filters]
        ids = None
        if all(p.ids is not None for p in plans):
            ids = tuple(sorted({i for p in plans for i in p.ids or ()}))
        dnf = None
        if all(p.type_dnf is not None for p in plans):
            dnf = tuple(conj for p in plans for conj in p.type_dnf or ())
        return replace(plans[0], ids=ids, type_dnf=dnf)


def _geo(georel: str, geometry: str, coordinates: str | list[Any], prop: str, terms: TermMap) -> GeoQuery:
    return parse_geo_query(georel, geometry, coordinates, prop or "location", terms.expand)


def _exact(
    ids: object, id_pattern: str, q: str, scope_q: str, geo: object, type_: str, attrs: object
) -> bool:
    """True when the type and attrs indexes alone decide the matches (no per-entity test needed)."""
    return not (ids or id_pattern or q or scope_q or geo) and bool(type_ or attrs)


async def build_filter(support: Support, request: pb.QueryEntitiesRequest) -> BuiltQuery:
    """The filter of a query request (GET parameters or the POST Query body)."""
    if request.query_body:
        return await _from_body(support, request)
    terms = await support.link_terms(request.ld.link_context)
    query = request.query
    geo = None
    if query.HasField("geo") and (query.geo.georel or query.geo.geometry or query.geo.coordinates):
        g = query.geo
        geo = _geo(g.georel, g.geometry, g.coordinates, g.geoproperty, terms)
    flt = EntityFilter.build(
        ids=list(query.ids),
        id_pattern=query.id_pattern,
        type_expression=query.type,
        attrs=list(query.attrs),
        q=query.q,
        scope_q=query.scope_q,
        geo=geo,
        csf=query.csf,
        expand=terms.expand,
        require_selector=not query.local,
    )
    exact = _exact(query.ids, query.id_pattern, query.q, query.scope_q, geo, query.type, query.attrs)
    return BuiltQuery(flt, exact)


def _text(body: Mapping[str, Any], name: str) -> str:
    value = body.get(name, "")
    if not isinstance(value, str):
        raise ProblemError("BadRequestData", f"the query member {name!r} must be a string")
    return value


async def _from_body(support: Support, request: pb.QueryEntitiesRequest) -> BuiltQuery:
    body = parse_object(request.query_body, "query")
    terms = await support.request_terms(request.ld, body)
    if body.get("type", "Query") != "Query":
        raise ProblemError("BadRequestData", "the query body's type must be 'Query'")
    attrs = body.get("attrs") or []
    if not isinstance(attrs, list) or not all(isinstance(a, str) for a in attrs):
        raise ProblemError("BadRequestData", "the query member 'attrs' must be a list of strings")
    geo = None
    geo_q = body.get("geoQ")
    if geo_q is not None:
        if not isinstance(geo_q, dict):
            raise ProblemError("BadRequestData", "the query member 'geoQ' must be an object")
        coordinates = geo_q.get("coordinates", "")
        if not isinstance(coordinates, str | list):
            raise ProblemError("BadRequestData", "geoQ.coordinates must be an array or a string")
        geo = _geo(
            _text(geo_q, "georel"), _text(geo_q, "geometry"), coordinates, _text(geo_q, "geoproperty"), terms
        )
    selectors = body.get("entities") or [{}]
    if not isinstance(selectors, list) or not all(isinstance(s, dict) for s in selectors):
        raise ProblemError("BadRequestData", "the query member 'entities' must be a list of objects")
    q, scope_q, lang = _text(body, "q"), _text(body, "scopeQ"), _text(body, "lang")
    local = body.get("local", False) is True or request.query.local
    filters: list[EntityFilter] = []
    exact = True
    for selector in selectors:
        entity_id = _text(selector, "id")
        id_pattern, type_ = _text(selector, "idPattern"), _text(selector, "type")
        filters.append(
            EntityFilter.build(
                ids=[entity_id] if entity_id else [],
                id_pattern=id_pattern,
                type_expression=type_,
                attrs=attrs,
                q=q,
                scope_q=scope_q,
                geo=geo,
                csf=_text(body, "csf"),
                expand=terms.expand,
                require_selector=not local,
            )
        )
        exact = exact and _exact(entity_id, id_pattern, q, scope_q, geo, type_, attrs)
    if len(filters) == 1:
        return BuiltQuery(filters[0], exact, tuple(attrs), lang)
    # The union of exact selectors is exact too, but one zset source per selector is not worth it here.
    return BuiltQuery(AnyOfFilter(filters), False, tuple(attrs), lang)
