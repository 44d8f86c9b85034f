"""Geo-queries (ETSI GS CIM 009 clause 4.10) evaluated with shapely; distances in metres."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any, NamedTuple

from cityos_broker.query.syntax import Expand


class GeoCircle(NamedTuple):
    """A pre-filter circle for Redis GEOSEARCH BYRADIUS."""

    lon: float
    lat: float
    radius_m: float


class GeoBox(NamedTuple):
    """A pre-filter bounding box for Redis GEOSEARCH BYBOX (degrees)."""

    min_lon: float
    min_lat: float
    max_lon: float
    max_lat: float


class GeoQuery:
    """A validated geo-query with its reference geometry prepared once; build it with `parse_geo_query`."""

    georel: str
    geoproperty_iri: str

    def matches(self, geometry: Mapping[str, Any]) -> bool:
        """True when a GeoJSON geometry (an entity's GeoProperty value) satisfies the georel."""
        raise NotImplementedError

    def matches_entity(self, entity: Mapping[str, Any]) -> bool:
        """True when any instance of the entity's geoproperty satisfies the georel."""
        raise NotImplementedError

    def search_area(self) -> GeoCircle | GeoBox | None:
        """A region containing every match (for GEOSEARCH pre-filtering), or None when none narrows."""
        raise NotImplementedError


def parse_geo_query(
    georel: str,
    geometry: str,
    coordinates: str | list[Any],
    geoproperty: str,
    expand: Expand,
) -> GeoQuery:
    """Validate a geo-query (georel, geometry, coordinates, geoproperty term); ProblemError 400 if bad."""
    raise NotImplementedError


def parse_geometry(value: Any) -> Any:
    """Validate a GeoJSON geometry object and return it as a shapely geometry; ProblemError 400 if bad."""
    raise NotImplementedError
