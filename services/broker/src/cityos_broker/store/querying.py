"""Query execution: candidate ids from the indexes, then stable lexical paging with the filter applied."""

from __future__ import annotations

import math
import secrets
from collections.abc import AsyncIterator, Sequence
from typing import Any, Protocol

import orjson
from cityos_runtime.redis_connect import RedisClient, RedisPipeline

from cityos_broker.query.filter import IndexCount, IndexPlan
from cityos_broker.query.geo import GeoBox, GeoCircle
from cityos_broker.store.counting import index_count
from cityos_broker.store.keys import TenantKeys, as_text
from cityos_broker.store.walking import plan_walk, range_stats, score_bounds, walk_chunks, walk_driver

Entity = dict[str, Any]
_TEMP_TTL_MS = 60_000  # temp sets outlive a crashed query by at most a minute
_FIRST_CHUNK = 100
_MAX_CHUNK = 1_000
_EARTH_RADIUS_M = 6_371_008.8


class Filter(Protocol):
    """What the executor needs of `query.EntityFilter`."""

    def matches(self, entity: Any) -> bool: ...

    def plan(self) -> IndexPlan: ...

    def count_plan(self) -> IndexCount | None: ...


def covering_circle(area: GeoCircle | GeoBox) -> GeoCircle:
    """A circle containing the area (GEOSEARCH BYRADIUS is exact on the sphere; boxes are converted)."""
    if isinstance(area, GeoCircle):
        return area
    lon = (area.min_lon + area.max_lon) / 2
    lat = (area.min_lat + area.max_lat) / 2
    corners = [(x, y) for x in (area.min_lon, area.max_lon) for y in (area.min_lat, area.max_lat)]
    radius = max(_haversine_m(lon, lat, x, y) for x, y in corners)
    return GeoCircle(lon, lat, radius * 1.001 + 1.0)


def _haversine_m(lon1: float, lat1: float, lon2: float, lat2: float) -> float:
    p1, p2 = math.radians(lat1), math.radians(lat2)
    dp, dl = p2 - p1, math.radians(lon2 - lon1)
    h = math.sin(dp / 2) ** 2 + math.cos(p1) * math.cos(p2) * math.sin(dl / 2) ** 2
    return 2 * _EARTH_RADIUS_M * math.asin(min(1.0, math.sqrt(h)))


class CandidateSet:
    """Builds the candidate set server-side (ZINTERSTORE / ZUNIONSTORE / GEOSEARCHSTORE into temp keys).

    Set algebra runs in Redis because shipping every id of a large type to Python costs far more than
    the C set operations; a plan that names a single index uses that zset directly, with no copy.
    """

    def __init__(self, keys: TenantKeys, *, no_others: frozenset[str] = frozenset()) -> None:
        self._keys = keys
        self._no_others = no_others  # attributes whose `numbers_other` set is known to be empty
        self._token = secrets.token_hex(8)
        self.temps: list[str] = []

    def _temp(self) -> str:
        key = self._keys.temp(f"{self._token}:{len(self.temps)}")
        self.temps.append(key)
        return key

    def _store(self, pipe: RedisPipeline, command: str, sources: Sequence[str]) -> str:
        """Queue ZINTERSTORE / ZUNIONSTORE with zero weights, so the result keeps lexical order."""
        if len(sources) == 1:
            return sources[0]
        dest = self._temp()
        pipe.execute_command(command, dest, len(sources), *sources, "WEIGHTS", *([0] * len(sources)))
        pipe.pexpire(dest, _TEMP_TTL_MS)
        return dest

    def build(self, pipe: RedisPipeline, plan: IndexPlan) -> str:
        """Queue the set operations and return the key of the final candidate zset."""
        keys = self._keys
        parts: list[str] = []
        # An empty conjunction would admit every type: then the types do not narrow at all.
        if plan.type_dnf is not None and all(plan.type_dnf):
            conjunctions = [
                self._store(pipe, "ZINTERSTORE", [keys.type_index(t) for t in sorted(conj)])
                for conj in plan.type_dnf
            ]
            if conjunctions:
                parts.append(self._store(pipe, "ZUNIONSTORE", conjunctions))
            else:  # an expression no type satisfies
                parts.append(self._temp())
        # `numbers` and `numbers_other` only hold entities that have the attribute: its presence index
        # would be a redundant (and large) operand of the intersection.
        parts.extend(keys.attr_index(a) for a in sorted(plan.required_attrs) if a not in plan.numeric_ranges)
        if plan.any_attrs:
            parts.append(
                self._store(pipe, "ZUNIONSTORE", [keys.attr_index(a) for a in sorted(plan.any_attrs)])
            )
        scored: set[str] = set()  # temps still holding the attribute values as scores
        for attr_iri, (low, high) in sorted(plan.numeric_ranges.items()):
            in_range = self._temp()
            pipe.execute_command(
                "ZRANGESTORE", in_range, keys.numbers(attr_iri), *score_bounds(low, high), "BYSCORE"
            )
            pipe.pexpire(in_range, _TEMP_TTL_MS)
            if attr_iri in self._no_others:
                scored.add(in_range)  # no copy just to add nothing: the final store zeroes the scores
                parts.append(in_range)
            else:
                # Entities whose attribute is not one plain number are left for `matches` to decide.
                parts.append(self._store(pipe, "ZUNIONSTORE", [in_range, keys.numbers_other(attr_iri)]))
        if plan.geo_property and plan.geo_area is not None:
            circle = covering_circle(plan.geo_area)
            near = self._temp()
            pipe.execute_command(
                "GEOSEARCHSTORE", near, keys.geo(plan.geo_property),
                "FROMLONLAT", circle.lon, circle.lat, "BYRADIUS", circle.radius_m, "m",
            )  # fmt: skip
            pipe.pexpire(near, _TEMP_TTL_MS)
            # Geometries without a usable GEO point always stay candidates; lines and polygons too, unless
            # the search area is known to hold the representative point of every match (within, equals).
            sources = [near, keys.geo_unplaced(plan.geo_property)]
            if not plan.geo_area_all_shapes:
                sources.append(keys.geo_shapes(plan.geo_property))
            parts.append(self._temp())
            pipe.execute_command(
                "ZUNIONSTORE", parts[-1], len(sources), *sources, "WEIGHTS", *([0] * len(sources))
            )
            pipe.pexpire(parts[-1], _TEMP_TTL_MS)
        if not parts:
            return keys.ids
        if len(parts) == 1 and parts[0] in scored:
            # Lexical paging (ZRANGE BYLEX) needs equal scores: a lone range still gets one zeroing copy.
            dest = self._temp()
            pipe.execute_command("ZINTERSTORE", dest, 1, parts[0], "WEIGHTS", 0)
            pipe.pexpire(dest, _TEMP_TTL_MS)
            return dest
        return self._store(pipe, "ZINTERSTORE", parts)


class QueryExecutor:
    """Runs entity queries of one Redis database."""

    def __init__(self, redis: RedisClient) -> None:
        self._redis = redis

    async def query(
        self,
        tenant: str,
        flt: Filter,
        *,
        limit: int,
        offset: int = 0,
        count: bool = False,
        exact: bool = False,
    ) -> tuple[list[Entity], int | None]:
        """A page of matches in lexical id order and the exact total (None unless `count`).

        `exact` says the index plan alone decides the matches (type / attrs selectors only), so paging
        and counting use ZRANGE / ZCARD without reading the skipped entities.
        """
        keys = TenantKeys(tenant)
        counting = flt.count_plan() if count and not exact else None
        if counting is not None:
            total = await index_count(self._redis, keys, counting)
            if total is not None:
                if limit == 0:
                    return [], total
                page, _ = await self.query(tenant, flt, limit=limit, offset=offset)
                return page, total
        plan = flt.plan()
        if plan.ids is not None:
            return await self._scan(keys, flt, self._listed(sorted(set(plan.ids))), limit, offset, count)
        no_others: frozenset[str] = frozenset()
        if plan.numeric_ranges and not exact:
            driver = walk_driver(keys, plan)
            stats, driver_size = await range_stats(self._redis, keys, plan, driver)
            walk = None
            if driver is not None:
                walk = plan_walk(keys, plan, driver, driver_size, stats, wanted=offset + limit, count=count)
            if walk is not None:
                return await self._scan(keys, flt, walk_chunks(self._redis, walk), limit, offset, count)
            no_others = frozenset(a for a, s in stats.items() if not s.others)
        candidates = CandidateSet(keys, no_others=no_others)
        try:
            async with self._redis.pipeline(transaction=False) as pipe:
                source = candidates.build(pipe, plan)
                if len(pipe):
                    await pipe.execute()
            if exact:
                return await self._exact(keys, source, limit, offset, count)
            return await self._scan(keys, flt, self._ranged(source), limit, offset, count)
        finally:
            if candidates.temps:
                await self._redis.unlink(*candidates.temps)

    async def _exact(
        self, keys: TenantKeys, source: str, limit: int, offset: int, count: bool
    ) -> tuple[list[Entity], int | None]:
        async with self._redis.pipeline(transaction=False) as pipe:
            if limit > 0:
                pipe.zrange(source, offset, offset + limit - 1)
            if count:
                pipe.zcard(source)
            replies = await pipe.execute()
        total = int(replies[-1]) if count else None
        ids = [as_text(m) for m in replies[0]] if limit > 0 else []
        return await self._fetch(keys, ids), total

    async def _scan(
        self,
        keys: TenantKeys,
        flt: Filter,
        chunks: AsyncIterator[list[str]],
        limit: int,
        offset: int,
        count: bool,
    ) -> tuple[list[Entity], int | None]:
        """Walk candidates in lexical order; stop once the page is full unless the total is asked for."""
        page: list[Entity] = []
        matched = 0
        async for ids in chunks:
            for entity in await self._fetch(keys, ids):
                if not flt.matches(entity):
                    continue
                if offset <= matched < offset + limit:
                    page.append(entity)
                matched += 1
            if not count and matched >= offset + limit:
                break
        return page, (matched if count else None)

    async def _fetch(self, keys: TenantKeys, ids: Sequence[str]) -> list[Entity]:
        """The stored forms of `ids` (skipping ids deleted meanwhile), in one pipeline."""
        if not ids:
            return []
        async with self._redis.pipeline(transaction=False) as pipe:
            for entity_id in ids:
                pipe.hget(keys.entity(entity_id), "d")
            rows = await pipe.execute()
        return [orjson.loads(row) for row in rows if row is not None]

    @staticmethod
    async def _listed(ids: list[str]) -> AsyncIterator[list[str]]:
        for start in range(0, len(ids), _MAX_CHUNK):
            yield ids[start : start + _MAX_CHUNK]

    async def _ranged(self, source: str) -> AsyncIterator[list[str]]:
        """Chunks of a zset in lexical order, resuming after the last id (inserts never shift the cursor)."""
        cursor = "-"
        size = _FIRST_CHUNK
        while True:
            members = await self._redis.zrange(source, cursor, "+", bylex=True, offset=0, num=size)
            if not members:
                return
            ids = [as_text(m) for m in members if isinstance(m, bytes | str)]
            yield ids
            if len(ids) < size:
                return
            cursor = "(" + ids[-1]
            size = min(size * 2, _MAX_CHUNK)
