"""`EntityFilter`: every selector of an entity query combined, plus the index plan for the store.

Selector rule (ETSI GS CIM 009 5.7.2 / 6.4.3.2, v1.6 and later, as Orion-LD applies it): a query needs
at least one of id, idPattern, type, attrs, q or a geo-query, unless the caller asked for `local=true`
(then every local entity may be listed). Pass `require_selector=not local`. `scopeQ` and `csf` alone do
not count. `csf` is validated and exposed but never filters entities: it selects context source
registrations (see `csf.py`).
"""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from cityos_runtime.problems import ProblemError

from cityos_broker.query.csf import parse_csf
from cityos_broker.query.geo import GeoBox, GeoCircle, GeoQuery
from cityos_broker.query.qlang import QExpression, compile_q
from cityos_broker.query.qterms import ExactRange
from cityos_broker.query.scopeq import ScopeQuery, parse_scope_query
from cityos_broker.query.syntax import Expand, compile_regex
from cityos_broker.query.typeexpr import TypeExpression, parse_type_expression

MAX_ID_PATTERN = 1_024
_URI = re.compile(r"[A-Za-z][A-Za-z0-9+.\-]*:[^\s\"<>\\^`{|}]+")


@dataclass(frozen=True, slots=True)
class IndexPlan:
    """What the store may use to narrow candidates before `EntityFilter.matches` decides.

    Every field is a necessary condition: the store intersects what it can and filters the rest.
    """

    ids: tuple[str, ...] | None = None  # entity must be one of these
    type_dnf: tuple[frozenset[str], ...] | None = None  # union over conjunctions of type-index intersections
    required_attrs: frozenset[str] = frozenset()  # entity must have every one of these attributes
    any_attrs: frozenset[str] = frozenset()  # entity must have at least one of these (the `attrs` parameter)
    numeric_ranges: Mapping[str, tuple[float | None, float | None]] = field(default_factory=dict)
    geo_property: str | None = None  # IRI of the GeoProperty the geo-query tests
    geo_area: GeoCircle | GeoBox | None = None  # GEOSEARCH pre-filter on `geo:<geo_property>`
    geo_area_all_shapes: bool = False  # False: geo_area holds matching Points only (see GeoQuery.search_area)


@dataclass(frozen=True, slots=True)
class IndexCount:
    """A query whose matches the indexes can count without reading an entity: an optional single type
    and one exact numeric range (`q` is one term such as `waterLevel>2`, nothing else filters).

    The store still checks that the attribute holds one plain number in every entity that has it
    (its `numbers_other` set is empty); otherwise it counts by walking the matches.
    """

    type_iri: str | None
    range: ExactRange


class EntityFilter:
    """Decides whether a stored entity matches a query; build it with `EntityFilter.build`."""

    __slots__ = ("attrs", "csf", "geo", "id_pattern", "ids", "q", "scope_query", "type_expression")

    def __init__(
        self,
        *,
        ids: frozenset[str],
        id_pattern: re.Pattern[str] | None,
        type_expression: TypeExpression | None,
        attrs: frozenset[str],
        q: QExpression | None,
        scope_query: ScopeQuery | None,
        geo: GeoQuery | None,
        csf: QExpression | None,
    ) -> None:
        self.ids = ids
        self.id_pattern = id_pattern
        self.type_expression = type_expression
        self.attrs = attrs
        self.q = q
        self.scope_query = scope_query
        self.geo = geo
        self.csf = csf  # for registrations only; never applied to entities

    @classmethod
    def build(
        cls,
        *,
        ids: Sequence[str] = (),
        id_pattern: str = "",
        type_expression: str = "",
        attrs: Sequence[str] = (),
        q: str = "",
        scope_q: str = "",
        geo: GeoQuery | None = None,
        csf: str = "",
        expand: Expand,
        require_selector: bool = True,
    ) -> EntityFilter:
        """Validate and compile every selector; ProblemError 400 on bad syntax or an unselective query."""
        for entity_id in ids:
            if not isinstance(entity_id, str) or not _URI.fullmatch(entity_id):
                raise ProblemError("BadRequestData", f"invalid entity id {entity_id!r}: an id is a URI")
        if require_selector and not (ids or id_pattern or type_expression or attrs or q or geo):
            raise ProblemError(
                "BadRequestData",
                "a query needs at least one of id, idPattern, type, attrs, q or a geo-query (or local=true)",
            )
        return cls(
            ids=frozenset(ids),
            id_pattern=_compile_id_pattern(id_pattern) if id_pattern else None,
            type_expression=parse_type_expression(type_expression, expand) if type_expression else None,
            attrs=frozenset(expand(name) for name in attrs),
            q=compile_q(q, expand) if q else None,
            scope_query=parse_scope_query(scope_q) if scope_q else None,
            geo=geo,
            csf=parse_csf(csf, expand) if csf else None,
        )

    def matches(self, entity: Mapping[str, Any]) -> bool:
        """True when the stored-form entity satisfies every selector (cheapest checks first)."""
        if self.ids and entity.get("id") not in self.ids:
            return False
        if self.type_expression is not None and not self.type_expression.matches(
            _as_list(entity.get("type"))
        ):
            return False
        if self.id_pattern is not None and not self.id_pattern.fullmatch(str(entity.get("id", ""))):
            return False
        if self.attrs:
            present = entity.get("attrs")
            if not isinstance(present, dict) or not any(name in present for name in self.attrs):
                return False
        if self.scope_query is not None and not self.scope_query.matches(_as_list(entity.get("scope"))):
            return False
        if self.q is not None and not self.q.matches(entity):
            return False
        return self.geo is None or self.geo.matches_entity(entity)

    def count_plan(self) -> IndexCount | None:
        """How the indexes alone could count the matches, when the selectors allow it (else None)."""
        if self.ids or self.id_pattern or self.attrs or self.scope_query or self.geo or self.q is None:
            return None
        exact = self.q.exact_range()
        if exact is None:
            return None
        if self.type_expression is None:
            return IndexCount(None, exact)
        dnf = self.type_expression.dnf()
        if len(dnf) != 1 or len(dnf[0]) != 1:
            return None
        (type_iri,) = dnf[0]
        return IndexCount(type_iri, exact)

    def plan(self) -> IndexPlan:
        """The index narrowing the store may apply before calling `matches`."""
        required = set(self.q.required_iris()) if self.q is not None else set()
        if self.geo is not None:
            required.add(self.geo.geoproperty_iri)  # entities without the GeoProperty never match (4.10)
        return IndexPlan(
            ids=tuple(sorted(self.ids)) if self.ids else None,
            type_dnf=tuple(self.type_expression.dnf()) if self.type_expression is not None else None,
            required_attrs=frozenset(required),
            any_attrs=self.attrs,
            numeric_ranges=self.q.numeric_ranges() if self.q is not None else {},
            geo_property=self.geo.geoproperty_iri if self.geo is not None else None,
            geo_area=self.geo.search_area() if self.geo is not None else None,
            geo_area_all_shapes=self.geo.area_covers_all_shapes if self.geo is not None else False,
        )


def _compile_id_pattern(pattern: str) -> re.Pattern[str]:
    """idPattern is a regular expression that the whole entity id must match."""
    if len(pattern) > MAX_ID_PATTERN:
        raise ProblemError("BadRequestData", f"idPattern is longer than {MAX_ID_PATTERN} characters")
    try:
        return compile_regex(pattern)
    except (re.error, RecursionError, OverflowError) as exc:
        raise ProblemError("BadRequestData", f"invalid idPattern {pattern!r}: {exc}") from exc


def _as_list(value: Any) -> list[Any]:
    if isinstance(value, list):
        return value
    return [] if value is None else [value]
