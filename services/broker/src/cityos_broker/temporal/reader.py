"""Read the history a temporal request asks for: Redis and archived S3 days merged, windowed and cut."""

from __future__ import annotations

import asyncio
from collections.abc import Sequence
from dataclasses import dataclass, field

from cityos_broker.temporal.blobs import HistoryArchive
from cityos_broker.temporal.changes import Instance, instance_time
from cityos_broker.temporal.params import TemporalQuery, TimeWindow
from cityos_broker.temporal.store import HistoryStore, Points
from cityos_broker.temporal.timeutil import day_bounds, from_ms


@dataclass(slots=True)
class Cut:
    """Whether lastN or the server limit left instances out, and the time range actually returned."""

    first: float | None = None
    last: float | None = None
    size: str = "*"
    cut: bool = False

    def include(self, first: float, last: float) -> None:
        self.first = first if self.first is None else min(self.first, first)
        self.last = last if self.last is None else max(self.last, last)

    def content_range(self) -> str:
        """`DateTime <start>-<end>/<size>` when something was left out, else ""."""
        if not self.cut or self.first is None or self.last is None:
            return ""
        return f"DateTime {from_ms(self.first)}-{from_ms(self.last)}/{self.size}"


@dataclass(slots=True)
class HistoryRead:
    """Per entity, per attribute: the instances to return, in time order."""

    points: list[dict[str, Points]] = field(default_factory=list)
    cut: Cut = field(default_factory=Cut)


def _day_overlaps(day: str, window: TimeWindow) -> bool:
    start, end = day_bounds(day)
    return (window.end is None or start < window.end) and (window.start is None or end > window.start)


class HistoryReader:
    """Reads history for temporal retrieve / query requests."""

    def __init__(self, history: HistoryStore, archive: HistoryArchive | None, max_instances: int) -> None:
        self._history = history
        self._archive = archive
        self._max = max_instances

    async def read(
        self, tenant: str, entities: Sequence[tuple[str, Sequence[str]]], query: TemporalQuery
    ) -> HistoryRead:
        """One Redis pipeline for every (entity, attribute), then the overlapping archived days from S3."""
        by_score = query.time_property == "observedAt"
        bounds = query.window.redis_bounds() if by_score else ("-inf", "+inf")
        rows = await self._history.read(tenant, entities, bounds)
        fetches: list[tuple[int, str, str, str]] = []
        for index, ((entity_id, _), per_attr) in enumerate(zip(entities, rows, strict=True)):
            for iri, (_, days) in per_attr.items():
                fetches += [
                    (index, iri, entity_id, day)
                    for day in sorted(days)
                    if not by_score or _day_overlaps(day, query.window)
                ]
        archived = await self._fetch(tenant, fetches)
        result = HistoryRead()
        for index, per_attr in enumerate(rows):
            entity_points: dict[str, Points] = {}
            for iri, (points, _) in per_attr.items():
                merged = self._merge(points, archived.get((index, iri), []), query)
                entity_points[iri] = self._cut(merged, query, result.cut)
            result.points.append(entity_points)
        return result

    async def _fetch(
        self, tenant: str, fetches: list[tuple[int, str, str, str]]
    ) -> dict[tuple[int, str], list[tuple[float, Instance]]]:
        if not fetches or self._archive is None:
            return {}
        archive = self._archive
        days = await asyncio.gather(*(archive.get_day(tenant, eid, iri, day) for _, iri, eid, day in fetches))
        out: dict[tuple[int, str], list[tuple[float, Instance]]] = {}
        for (index, iri, _, _), points in zip(fetches, days, strict=True):
            out.setdefault((index, iri), []).extend(points)
        return out

    @staticmethod
    def _merge(redis_points: Points, archived: Points, query: TemporalQuery) -> Points:
        """Both sources in time order, each instance once, inside the window for the time property."""
        window = query.window
        merged: dict[object, tuple[float, Instance]] = {}
        for at, instance in (*archived, *redis_points):
            if query.time_property != "observedAt":
                moment = instance_time(instance, query.time_property)
                if moment is None:
                    continue
                at = moment
            if window.contains(at):
                merged[instance.get("instanceId") or (at, id(instance))] = (at, instance)
        return sorted(merged.values(), key=lambda p: p[0])

    def _cut(self, points: Points, query: TemporalQuery, cut: Cut) -> Points:
        if not points:
            return points
        kept = list(points)
        if query.mode != "aggregatedValues":
            if query.last_n is not None and len(kept) > query.last_n:
                kept = kept[-query.last_n :]
                cut.cut, cut.size = True, str(query.last_n)
            elif len(kept) > self._max:
                kept = kept[: self._max]
                cut.cut = True
        cut.include(kept[0][0], kept[-1][0])
        return kept
