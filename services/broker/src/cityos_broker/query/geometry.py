"""GeoJSON geometries (IETF RFC 7946) for geo-queries: strict validation of reference geometries and a
tolerant, exception-free reading of stored target geometries."""

from __future__ import annotations

import math
from collections.abc import Mapping
from typing import Any

import shapely
from cityos_runtime.problems import ProblemError
from shapely.geometry import shape
from shapely.validation import explain_validity

# GeometryCollection is excluded from geo-queries (clause 4.10).
GEOMETRY_TYPES = ("Point", "MultiPoint", "LineString", "MultiLineString", "Polygon", "MultiPolygon")


def parse_geometry(value: Any, what: str = "geometry") -> Any:
    """Validate a GeoJSON geometry object and return it as a shapely geometry; ProblemError 400 if bad."""
    if not isinstance(value, Mapping):
        raise _bad(what, "a GeoJSON geometry is an object with 'type' and 'coordinates'")
    return geometry_from_parts(value.get("type"), value.get("coordinates"), what)


def geometry_from_parts(geometry_type: Any, coordinates: Any, what: str = "geometry") -> Any:
    """Validate a geometry type with its coordinates (RFC 7946 3.1) and build the shapely geometry."""
    if geometry_type not in GEOMETRY_TYPES:
        raise _bad(
            what, f"unsupported geometry type {geometry_type!r}; expected one of {', '.join(GEOMETRY_TYPES)}"
        )
    _check(geometry_type, coordinates, what)
    try:
        geometry = shape({"type": geometry_type, "coordinates": _planar(coordinates)})
    except (ValueError, TypeError, shapely.errors.GEOSException) as exc:
        raise _bad(what, f"invalid {geometry_type}: {exc}") from exc
    if not shapely.is_valid(geometry):
        raise _bad(what, f"invalid {geometry_type}: {explain_validity(geometry)}")
    return geometry


def read_target(value: Any) -> Any:
    """A stored GeoProperty value as a shapely geometry, or None when it is not a usable geometry."""
    if not isinstance(value, Mapping):
        return None
    try:
        _check(value.get("type"), value.get("coordinates"), "geometry")
        return shape({"type": value["type"], "coordinates": _planar(value["coordinates"])})
    except (ProblemError, ValueError, TypeError, shapely.errors.GEOSException):
        return None


def point_of(value: Any) -> tuple[float, float] | None:
    """(lon, lat) of a stored GeoJSON Point, without building a shapely object; None otherwise."""
    if not isinstance(value, Mapping) or value.get("type") != "Point":
        return None
    coordinates = value.get("coordinates")
    if isinstance(coordinates, list) and len(coordinates) in (2, 3) and _position_ok(coordinates):
        return float(coordinates[0]), float(coordinates[1])
    return None


def _planar(coordinates: Any) -> Any:
    """The coordinates without altitudes: predicates are 2-D, and mixed 2-D/3-D positions break shapely."""
    if coordinates and isinstance(coordinates[0], list):
        return [_planar(item) for item in coordinates]
    return coordinates[:2]


def _check(geometry_type: Any, coordinates: Any, what: str) -> None:
    if geometry_type == "Point":
        _position(coordinates, what)
    elif geometry_type == "MultiPoint":
        for position in _non_empty(coordinates, "MultiPoint", what):
            _position(position, what)
    elif geometry_type == "LineString":
        _line(coordinates, what)
    elif geometry_type == "MultiLineString":
        for line in _non_empty(coordinates, "MultiLineString", what):
            _line(line, what)
    elif geometry_type == "Polygon":
        _polygon(coordinates, what)
    elif geometry_type == "MultiPolygon":
        for polygon in _non_empty(coordinates, "MultiPolygon", what):
            _polygon(polygon, what)
    else:
        raise _bad(what, f"unsupported geometry type {geometry_type!r}")


def _non_empty(value: Any, name: str, what: str) -> list[Any]:
    if not isinstance(value, list) or not value:
        raise _bad(what, f"{name} coordinates must be a non-empty array")
    return value


def _position(value: Any, what: str) -> None:
    if not isinstance(value, list) or len(value) not in (2, 3):
        raise _bad(
            what, f"a position is [longitude, latitude] or [longitude, latitude, altitude], not {value!r}"
        )
    if not all(isinstance(n, int | float) and not isinstance(n, bool) and math.isfinite(n) for n in value):
        raise _bad(what, f"a position holds finite numbers, not {value!r}")
    if not _position_ok(value):
        raise _bad(what, f"position {value!r} is out of range (longitude -180..180, latitude -90..90)")


def _position_ok(value: list[Any]) -> bool:
    if not all(isinstance(n, int | float) and not isinstance(n, bool) and math.isfinite(n) for n in value):
        return False
    return bool(-180.0 <= value[0] <= 180.0 and -90.0 <= value[1] <= 90.0)


def _line(value: Any, what: str) -> None:
    positions = _non_empty(value, "LineString", what)
    if len(positions) < 2:
        raise _bad(what, "a LineString needs at least 2 positions")
    for position in positions:
        _position(position, what)


def _polygon(value: Any, what: str) -> None:
    for ring in _non_empty(value, "Polygon", what):
        if not isinstance(ring, list) or len(ring) < 4:
            raise _bad(what, "a Polygon ring needs at least 4 positions")
        for position in ring:
            _position(position, what)
        if ring[0][:2] != ring[-1][:2]:
            raise _bad(what, "a Polygon ring must be closed (its first and last positions equal)")


def _bad(what: str, detail: str) -> ProblemError:
    return ProblemError("BadRequestData", f"invalid {what}: {detail}")
