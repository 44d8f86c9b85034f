"""Retention: move whole UTC days older than the retention from Redis to S3, on one replica at a time."""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from collections import defaultdict

import orjson
from cityos_runtime.redis_connect import RedisClient
from redis.exceptions import RedisError

from cityos_broker.store.keys import TENANTS_KEY, as_text
from cityos_broker.temporal.blobs import ArchivedPoint, HistoryArchive
from cityos_broker.temporal.keys import ARCHIVE_LEASE_KEY
from cityos_broker.temporal.store import HistoryStore
from cityos_broker.temporal.timeutil import day_bounds, day_of

_log = logging.getLogger("cityos.broker.temporal.archive")
# Renew the lease only while we still own it; release it only if it is still ours.
_RENEW = (
    "if redis.call('GET', KEYS[1]) == ARGV[1] then "
    "return redis.call('PEXPIRE', KEYS[1], ARGV[2]) end return 0"
)
_RELEASE = "if redis.call('GET', KEYS[1]) == ARGV[1] then return redis.call('DEL', KEYS[1]) end return 0"


def cutoff_ms(now_ms: float, retention_ms: float) -> float:
    """Start of the UTC day holding `now - retention`: everything before it is archived in whole days."""
    return day_bounds(day_of(now_ms - retention_ms))[0]


class ArchiveJob:
    """Periodic archive run guarded by a Redis lease (SET NX PX), so exactly one replica archives."""

    def __init__(
        self,
        redis: RedisClient,
        history: HistoryStore,
        archive: HistoryArchive,
        *,
        owner: str,
        retention_ms: float,
        interval: float,
        lease_ms: int = 120_000,
    ) -> None:
        self._redis = redis
        self._history = history
        self._archive = archive
        self._owner = owner
        self._retention_ms = retention_ms
        self._interval = interval
        self._lease_ms = lease_ms

    async def run_forever(self, stopping: asyncio.Event) -> None:
        """Archive every `interval` seconds until `stopping` is set; a failed run is retried next time."""
        while not stopping.is_set():
            try:
                moved = await self.run_once()
                if moved:
                    _log.info("archived history", extra={"instances": moved})
            except (RedisError, OSError) as error:
                _log.warning(
                    "history archive run failed", extra={"error": f"{type(error).__name__}: {error}"}
                )
            except Exception:
                _log.exception("history archive run failed unexpectedly")
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(stopping.wait(), self._interval)

    async def run_once(self, now_ms: float | None = None) -> int:
        """One run if this replica gets the lease; returns how many instances moved to S3."""
        if not await self._redis.set(ARCHIVE_LEASE_KEY, self._owner, nx=True, px=self._lease_ms):
            return 0
        try:
            cutoff = cutoff_ms(time.time() * 1000.0 if now_ms is None else now_ms, self._retention_ms)
            moved = 0
            for tenant in sorted(as_text(t) for t in await self._redis.smembers(TENANTS_KEY)):
                for entity_id in await self._history.entity_ids(tenant):
                    if not await self._renew():
                        _log.warning("history archive lease lost; stopping this run")
                        return moved
                    for iri in sorted(await self._history.attributes(tenant, entity_id)):
                        moved += await self._archive_attribute(tenant, entity_id, iri, cutoff)
            return moved
        finally:
            await self._redis.eval(_RELEASE, 1, ARCHIVE_LEASE_KEY, self._owner)

    async def _renew(self) -> bool:
        return bool(await self._redis.eval(_RENEW, 1, ARCHIVE_LEASE_KEY, self._owner, str(self._lease_ms)))

    async def _archive_attribute(self, tenant: str, entity_id: str, iri: str, cutoff: float) -> int:
        rows = await self._history.older_than(tenant, entity_id, iri, cutoff)
        by_day: dict[str, list[tuple[bytes, float]]] = defaultdict(list)
        for member, score in rows:
            by_day[day_of(score)].append((member, score))
        for day, items in sorted(by_day.items()):
            # A day may already hold objects from an earlier run (late data, or a run that stopped after
            # the S3 write): merge by instance id so nothing is duplicated or lost.
            merged: dict[str, ArchivedPoint] = {}
            for at, instance in await self._archive.get_day(tenant, entity_id, iri, day):
                merged[str(instance.get("instanceId"))] = (at, instance)
            for member, score in items:
                instance = orjson.loads(member)
                merged[str(instance.get("instanceId"))] = (score, instance)
            await self._archive.put_day(tenant, entity_id, iri, day, list(merged.values()))
            # Only now, with the object written, may Redis forget these instances.
            await self._history.mark_archived(tenant, entity_id, iri, day, [m for m, _ in items])
        return len(rows)
