"""`EntityFilter`: every selector of an entity query combined, plus the index plan for the store."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from cityos_broker.query.geo import GeoBox, GeoCircle, GeoQuery
from cityos_broker.query.syntax import Expand


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


class EntityFilter:
    """Decides whether a stored entity matches a query; build it with `EntityFilter.build`."""

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
        raise NotImplementedError

    def matches(self, entity: Mapping[str, Any]) -> bool:
        """True when the stored-form entity satisfies every selector (cheapest checks first)."""
        raise NotImplementedError

    def plan(self) -> IndexPlan:
        """The index narrowing the store may apply before calling `matches`."""
        raise NotImplementedError
