"""Pure index bookkeeping: what an entity contributes to the indexes, and the difference between two forms.

The write script (store/scripts.py) applies the difference atomically with the entity; computing it here
keeps the Lua small and lets unit tests cover the rules without Redis.
"""

from __future__ import annotations

import math
from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field
from typing import Any

from cityos_broker.store.keys import TenantKeys

# Redis GEO accepts latitudes only within the Web Mercator range; other points are indexed as shapes.
_MAX_LAT = 85.05112878
GEO_PROPERTY = "GeoProperty"


@dataclass(frozen=True, slots=True)
class IndexEntries:
    """Everything one stored entity contributes to its tenant's indexes."""

    members: frozenset[str] = frozenset()  # zset keys that hold the entity id
    counters: Mapping[tuple[str, str], int] = field(default_factory=dict)  # (hash key, field) -> count
    points: Mapping[str, tuple[float, float]] = field(default_factory=dict)  # geo key -> (lon, lat)
    numbers: Mapping[str, float] = field(default_factory=dict)  # numeric index key -> value (score)


@dataclass(slots=True)
class IndexDiff:
    """Index changes as the write script expects them: extra KEYS and the op tokens that name them.

    The ops travel as one JSON array (not one argument each): redis-py packs every argument in Python,
    which dominated batch writes. Scores and coordinates are strings so Lua never rounds them.
    """

    keys: list[str] = field(default_factory=list)
    args: list[str | int] = field(default_factory=list)
    _slots: dict[str, int] = field(default_factory=dict)

    def key_ref(self, key: str, first_slot: int) -> int:
        """The 1-based KEYS position of `key`, adding it on first use."""
        slot = self._slots.get(key)
        if slot is None:
            self.keys.append(key)
            slot = first_slot + len(self.keys) - 1
            self._slots[key] = slot
        return slot


def _positions(coordinates: Any) -> Iterator[tuple[float, float]]:
    """Every (lon, lat) position in nested GeoJSON coordinates."""
    if (
        isinstance(coordinates, list | tuple)
        and len(coordinates) >= 2
        and all(isinstance(c, int | float) and not isinstance(c, bool) for c in coordinates[:2])
    ):
        yield float(coordinates[0]), float(coordinates[1])
        return
    if isinstance(coordinates, list | tuple):
        for item in coordinates:
            yield from _positions(item)


def _geometry_positions(geometry: Mapping[str, Any]) -> Iterator[tuple[float, float]]:
    if geometry.get("type") == "GeometryCollection":
        for member in geometry.get("geometries") or ():
            if isinstance(member, Mapping):
                yield from _geometry_positions(member)
        return
    yield from _positions(geometry.get("coordinates"))


def representative_point(geometries: list[Mapping[str, Any]]) -> tuple[float, float] | None:
    """Centre of the bounding box of every position in the geometries; None when none is usable."""
    min_lon = min_lat = float("inf")
    max_lon = max_lat = float("-inf")
    for geometry in geometries:
        for lon, lat in _geometry_positions(geometry):
            min_lon, max_lon = min(min_lon, lon), max(max_lon, lon)
            min_lat, max_lat = min(min_lat, lat), max(max_lat, lat)
    if min_lon == float("inf"):
        return None
    lon, lat = (min_lon + max_lon) / 2, (min_lat + max_lat) / 2
    if not (-180.0 <= lon <= 180.0 and -_MAX_LAT <= lat <= _MAX_LAT):
        return None
    return lon, lat


def _sole_number(instances: list[Mapping[str, Any]]) -> float | None:
    """The value of an attribute that is exactly one Property instance holding a finite number."""
    if len(instances) != 1 or instances[0].get("type", "Property") != "Property":
        return None
    value = instances[0].get("value")
    if isinstance(value, bool) or not isinstance(value, int | float):
        return None
    try:
        number = float(value)
    except OverflowError:
        return None
    return number if math.isfinite(number) else None


def _is_single_point(geometries: list[Mapping[str, Any]]) -> bool:
    return len(geometries) == 1 and geometries[0].get("type") == "Point"


def index_entries(keys: TenantKeys, entity: Mapping[str, Any]) -> IndexEntries:
    """The index entries of a stored-form entity (docs/broker-design.md)."""
    types: list[str] = list(entity.get("type") or ())
    attrs: Mapping[str, list[Mapping[str, Any]]] = entity.get("attrs") or {}
    members = {keys.ids}
    counters: dict[tuple[str, str], int] = {}
    points: dict[str, tuple[float, float]] = {}
    numbers: dict[str, float] = {}
    for type_iri in types:
        members.add(keys.type_index(type_iri))
        counters[(keys.types, type_iri)] = 1
    for attr_iri, instances in attrs.items():
        if not instances:
            continue
        members.add(keys.attr_index(attr_iri))
        counters[(keys.attrs, attr_iri)] = len(instances)
        kinds: dict[str, int] = {}
        geometries: list[Mapping[str, Any]] = []
        for instance in instances:
            kind = str(instance.get("type", "Property"))
            kinds[kind] = kinds.get(kind, 0) + 1
            value = instance.get("value")
            if kind == GEO_PROPERTY and isinstance(value, Mapping):
                geometries.append(value)
        kinds_key = keys.attr_kinds(attr_iri)
        for kind, count in kinds.items():
            counters[(kinds_key, kind)] = count
        for type_iri in types:
            counters[(keys.type_attrs(type_iri), attr_iri)] = 1
            # "<kind> <attribute IRI>" (IRIs hold no spaces): the kinds an attribute has within a type.
            type_kinds_key = keys.type_attr_kinds(type_iri)
            for kind, count in kinds.items():
                counters[(type_kinds_key, f"{kind} {attr_iri}")] = count
        number = _sole_number(instances)
        if number is None:
            # Not one plain number: `q` range pre-filters must keep the entity as a candidate.
            members.add(keys.numbers_other(attr_iri))
        else:
            numbers[keys.numbers(attr_iri)] = number
        if geometries:
            point = representative_point(geometries)
            if point is None:
                # No usable point (e.g. beyond Redis GEO's latitude range): a candidate of every geo-query.
                members.add(keys.geo_unplaced(attr_iri))
            else:
                points[keys.geo(attr_iri)] = point
                # Only a lone Point is fully described by its GEO entry; a line, polygon or several
                # instances may match a geo-query whose search area misses their representative point.
                if not _is_single_point(geometries):
                    members.add(keys.geo_shapes(attr_iri))
    return IndexEntries(frozenset(members), counters, points, numbers)


def index_diff(old: IndexEntries | None, new: IndexEntries | None, *, first_slot: int) -> IndexDiff:
    """The ops turning the indexes of `old` into those of `new`; key references start at `first_slot`."""
    old = old or IndexEntries()
    new = new or IndexEntries()
    diff = IndexDiff()
    args = diff.args
    for key in sorted(new.members - old.members):
        args += ("Z+", diff.key_ref(key, first_slot))
    for key in sorted(old.members - new.members):
        args += ("Z-", diff.key_ref(key, first_slot))
    for counter in sorted(old.counters.keys() | new.counters.keys()):
        delta = new.counters.get(counter, 0) - old.counters.get(counter, 0)
        if delta:
            args += ("H", diff.key_ref(counter[0], first_slot), counter[1], delta)
    for key, point in sorted(new.points.items()):
        if old.points.get(key) != point:
            args += ("G", diff.key_ref(key, first_slot), repr(point[0]), repr(point[1]))
    for key in sorted(old.points.keys() - new.points.keys()):
        args += ("Z-", diff.key_ref(key, first_slot))
    for key, number in sorted(new.numbers.items()):
        if old.numbers.get(key) != number:
            args += ("N", diff.key_ref(key, first_slot), repr(number))
    for key in sorted(old.numbers.keys() - new.numbers.keys()):
        args += ("Z-", diff.key_ref(key, first_slot))
    return diff
