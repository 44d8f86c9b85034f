"""Geo-queries (ETSI GS CIM 009 clause 4.10) evaluated with shapely; distances in metres.

`near;maxDistance==d` / `near;minDistance==d` measure the geodesic distance between the reference and the
target geometry: exactly (haversine) between two points, otherwise in a local azimuthal equidistant
projection centred on the reference (see `geodesy`). The topological relations (within, contains,
intersects, equals, disjoint, overlaps) follow the OGC Simple Features definitions on longitude/latitude
as planar coordinates, as GeoJSON (RFC 7946) and the other NGSI-LD brokers do.
"""

from __future__ import annotations

import math
import re
from collections.abc import Mapping
from typing import Any, NamedTuple

import orjson
import shapely
from cityos_runtime.problems import ProblemError

from cityos_broker.query.geodesy import METRES_PER_DEGREE, LocalProjection, haversine_m
from cityos_broker.query.geometry import geometry_from_parts, point_of, read_target
from cityos_broker.query.syntax import Expand

GEORELS = ("near", "within", "contains", "intersects", "equals", "disjoint", "overlaps")
_NEAR_MODIFIER = re.compile(
    r"(maxDistance|minDistance)==((?:0|[1-9][0-9]*)(?:\.[0-9]+)?(?:[eE][+-]?[0-9]+)?)"
)
# Padding for the pre-filter circle, so Redis' own (slightly different) Earth model never drops a match.
_RADIUS_SLACK = 1.001
_RADIUS_SLACK_M = 1.0


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

    __slots__ = (
        "_bounds",
        "_near_point",
        "_projected",
        "_projection",
        "distance",
        "geometry",
        "geoproperty_iri",
        "georel",
        "modifier",
        "reference",
    )

    def __init__(
        self, georel: str, modifier: str | None, distance: float | None, reference: Any, geoproperty_iri: str
    ) -> None:
        self.georel = georel
        self.modifier = modifier  # "maxDistance" | "minDistance" for near, else None
        self.distance = distance  # metres, for near
        self.reference = reference  # shapely geometry, prepared
        self.geometry = str(reference.geom_type)
        self.geoproperty_iri = geoproperty_iri
        shapely.prepare(reference)
        self._bounds = tuple(float(b) for b in reference.bounds)
        self._near_point: tuple[float, float] | None = None
        self._projection: LocalProjection | None = None
        self._projected: Any = None
        if georel == "near":
            centre = reference if self.geometry == "Point" else reference.centroid
            if self.geometry == "Point":
                self._near_point = (float(reference.x), float(reference.y))
            self._projection = LocalProjection(float(centre.x), float(centre.y))
            self._projected = self._projection.project(reference)
            shapely.prepare(self._projected)

    def matches(self, geometry: Mapping[str, Any]) -> bool:
        """True when a GeoJSON geometry (an entity's GeoProperty value) satisfies the georel."""
        point = point_of(geometry)
        try:
            if self.georel == "near":
                return self._near(geometry, point)
            if point is not None and self.georel in ("within", "intersects", "disjoint"):
                # Fast path for the common Point target: a bounds check, then no shapely object per entity.
                min_lon, min_lat, max_lon, max_lat = self._bounds
                if not (min_lon <= point[0] <= max_lon and min_lat <= point[1] <= max_lat):
                    return self.georel == "disjoint"
                if self.georel == "within":
                    return bool(shapely.contains_xy(self.reference, *point))
                inside = bool(shapely.intersects_xy(self.reference, *point))
                return inside if self.georel == "intersects" else not inside
            target = read_target(geometry)
            if target is None:
                return False
            return bool(_RELATIONS[self.georel](self.reference, target))
        except shapely.errors.GEOSException:
            return False  # a degenerate stored geometry matches nothing rather than failing the query

    def matches_entity(self, entity: Mapping[str, Any]) -> bool:
        """True when any instance of the entity's geoproperty satisfies the georel (clause 4.10)."""
        attrs = entity.get("attrs")
        instances = attrs.get(self.geoproperty_iri) if isinstance(attrs, dict) else None
        if not isinstance(instances, list):
            return False
        return any(isinstance(i, dict) and "value" in i and self.matches(i["value"]) for i in instances)

    def search_area(self) -> GeoCircle | GeoBox | None:
        """A region holding the representative point of every match, for GEOSEARCH pre-filtering.

        None when no region narrows (disjoint, near;minDistance, contains). When `area_covers_all_shapes`
        is False the region is only guaranteed for Point targets: a matching line or polygon may have its
        representative point outside it, so the store must also consider non-point geometries.
        """
        if self.georel == "near":
            if self.modifier != "maxDistance" or self.distance is None:
                return None
            radius = self.distance * _RADIUS_SLACK + _RADIUS_SLACK_M
            if self._near_point is not None:
                return GeoCircle(self._near_point[0], self._near_point[1], radius)
            return _expanded_box(self.reference.bounds, radius)
        if self.georel in ("within", "equals", "intersects", "overlaps"):
            return GeoBox(*(float(b) for b in self.reference.bounds))
        return None

    @property
    def area_covers_all_shapes(self) -> bool:
        """True when `search_area` holds the representative point (centroid) of every matching geometry.

        within / equals: a match lies inside the reference, so its centroid lies in the reference's box.
        """
        return self.georel in ("within", "equals")

    def _near(self, geometry: Mapping[str, Any], point: tuple[float, float] | None) -> bool:
        assert self.distance is not None and self._projection is not None
        if point is not None and self._near_point is not None:
            metres = haversine_m(self._near_point[0], self._near_point[1], point[0], point[1])
        else:
            target = read_target(geometry)
            if target is None:
                return False
            metres = float(shapely.distance(self._projected, self._projection.project(target)))
        # maxDistance: inside the closed buffer; minDistance: disjoint from it (clause 4.10).
        return metres <= self.distance if self.modifier == "maxDistance" else metres > self.distance

    def __repr__(self) -> str:
        near = f";{self.modifier}=={self.distance:g}" if self.modifier else ""
        return f"GeoQuery({self.georel}{near}, {self.geometry}, {self.geoproperty_iri})"


_RELATIONS: dict[str, Any] = {
    "within": shapely.contains,  # target within reference <=> reference contains target (prepared first)
    "contains": shapely.within,  # target contains reference <=> reference within target
    "intersects": shapely.intersects,
    "disjoint": shapely.disjoint,
    "overlaps": shapely.overlaps,
    "equals": shapely.equals,
}


def parse_geo_query(
    georel: str,
    geometry: str,
    coordinates: str | list[Any],
    geoproperty: str,
    expand: Expand,
) -> GeoQuery:
    """Validate a geo-query (georel, geometry, coordinates, geoproperty term); ProblemError 400 if bad.

    An empty `geoproperty` means `location` (clause 4.10).
    """
    relation, modifier, distance = _parse_georel(georel)
    if not geometry:
        raise ProblemError("BadRequestData", "a geo-query needs 'geometry' (e.g. Point, Polygon)")
    if isinstance(coordinates, str):
        if not coordinates.strip():
            raise ProblemError("BadRequestData", "a geo-query needs 'coordinates' (a JSON array)")
        try:
            coordinates = orjson.loads(coordinates)
        except orjson.JSONDecodeError as exc:
            raise ProblemError("BadRequestData", f"invalid coordinates: not a JSON array ({exc})") from exc
    reference = geometry_from_parts(geometry, coordinates, "geo-query geometry")
    return GeoQuery(relation, modifier, distance, reference, expand(geoproperty or "location"))


def _parse_georel(georel: str) -> tuple[str, str | None, float | None]:
    parts = [part.strip() for part in georel.split(";")] if georel else [""]
    relation = parts[0]
    if relation not in GEORELS:
        raise ProblemError(
            "BadRequestData", f"invalid georel {georel!r}: expected one of {', '.join(GEORELS)}"
        )
    if relation != "near":
        if len(parts) > 1:
            raise ProblemError("BadRequestData", f"invalid georel {georel!r}: {relation} takes no modifier")
        return relation, None, None
    found = _NEAR_MODIFIER.fullmatch(parts[1]) if len(parts) == 2 else None
    if found is None:
        raise ProblemError(
            "BadRequestData",
            f"invalid georel {georel!r}: near needs one of maxDistance==<metres> or minDistance==<metres>",
        )
    distance = float(found.group(2))
    if not math.isfinite(distance) or distance <= 0:
        raise ProblemError(
            "BadRequestData", f"invalid georel {georel!r}: the distance must be a positive number"
        )
    return relation, found.group(1), distance


def _expanded_box(bounds: tuple[float, float, float, float], metres: float) -> GeoBox:
    """The bounding box grown by a distance in every direction (whole longitudes near the poles)."""
    min_lon, min_lat, max_lon, max_lat = (float(b) for b in bounds)
    dlat = metres / METRES_PER_DEGREE
    min_lat, max_lat = max(-90.0, min_lat - dlat), min(90.0, max_lat + dlat)
    cos_lat = math.cos(math.radians(max(abs(min_lat), abs(max_lat))))
    dlon = metres / (METRES_PER_DEGREE * cos_lat) if cos_lat > 1e-9 else 360.0
    min_lon, max_lon = min_lon - dlon, max_lon + dlon
    if min_lon < -180.0 or max_lon > 180.0:  # crossing the antimeridian: keep every longitude
        min_lon, max_lon = -180.0, 180.0
    return GeoBox(min_lon, min_lat, max_lon, max_lat)
