"""GeoJSON geometry validation (RFC 7946) for GeoProperty values."""

from __future__ import annotations

from typing import Any

from cityos_runtime.problems import ProblemError

GEOMETRY_TYPES = frozenset(
    {"Point", "MultiPoint", "LineString", "MultiLineString", "Polygon", "MultiPolygon", "GeometryCollection"}
)
_MAX_COLLECTION_DEPTH = 4


def looks_like_geometry(value: object) -> bool:
    """True for a JSON object shaped like a GeoJSON geometry (a geometry type plus coordinates)."""
    return (
        isinstance(value, dict)
        and value.get("type") in GEOMETRY_TYPES
        and ("coordinates" in value or "geometries" in value)
    )


def validate_geometry(value: object, where: str) -> dict[str, Any]:
    """The geometry itself when valid, else ProblemError BadRequestData naming `where`."""
    _check(value, where, 0)
    assert isinstance(value, dict)
    return value


def _check(value: object, where: str, depth: int) -> None:
    if not isinstance(value, dict):
        raise _bad(where, "a GeoProperty value must be a GeoJSON geometry object")
    kind = value.get("type")
    if kind not in GEOMETRY_TYPES:
        raise _bad(where, f"unsupported GeoJSON geometry type {kind!r}")
    if kind == "GeometryCollection":
        geometries = value.get("geometries")
        if not isinstance(geometries, list) or depth >= _MAX_COLLECTION_DEPTH:
            raise _bad(where, "a GeometryCollection needs a 'geometries' array")
        for item in geometries:
            _check(item, where, depth + 1)
        return
    coords = value.get("coordinates")
    if kind == "Point":
        _position(coords, where)
    elif kind in ("MultiPoint", "LineString"):
        _positions(coords, where, 2 if kind == "LineString" else 1)
    elif kind == "MultiLineString":
        for line in _array(coords, where, 1):
            _positions(line, where, 2)
    elif kind == "Polygon":
        _polygon(coords, where)
    else:
        for polygon in _array(coords, where, 1):
            _polygon(polygon, where)


def _array(value: object, where: str, minimum: int) -> list[Any]:
    if not isinstance(value, list) or len(value) < minimum:
        raise _bad(where, f"GeoJSON coordinates must be an array of at least {minimum} item(s)")
    return value


def _position(value: object, where: str) -> list[float]:
    if (
        not isinstance(value, list)
        or len(value) not in (2, 3)
        or not all(isinstance(c, int | float) and not isinstance(c, bool) for c in value)
    ):
        raise _bad(
            where, "a GeoJSON position is an array of 2 or 3 numbers [longitude, latitude(, altitude)]"
        )
    lon, lat = value[0], value[1]
    if not (-180.0 <= lon <= 180.0) or not (-90.0 <= lat <= 90.0):
        raise _bad(where, f"position {value} is out of range (longitude -180..180, latitude -90..90)")
    return value


def _positions(value: object, where: str, minimum: int) -> None:
    for position in _array(value, where, minimum):
        _position(position, where)


def _polygon(value: object, where: str) -> None:
    for ring in _array(value, where, 1):
        _positions(ring, where, 4)
        if ring[0] != ring[-1]:
            raise _bad(where, "a Polygon ring must be closed (first position equal to the last)")


def _bad(where: str, detail: str) -> ProblemError:
    return ProblemError("BadRequestData", f"{where}: {detail}")
