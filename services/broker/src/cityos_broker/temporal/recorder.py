"""The history recorder: reads every tenant's change stream through a consumer group and records history.

At-least-once: an entry is acknowledged only after its history is written, and writing it twice changes
nothing (instance ids and members derive from the entry id). Entries a dead replica read but never
acknowledged are taken over with XAUTOCLAIM once they have been idle for `claim_idle_ms`.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Sequence
from typing import Any, cast

import orjson
from cityos_runtime.redis_connect import RedisClient
from redis.exceptions import RedisError, ResponseError

from cityos_broker.store.keys import TENANTS_KEY, TenantKeys, as_text
from cityos_broker.store.stream_reads import GroupReader
from cityos_broker.temporal.changes import HistoryWrite, from_change
from cityos_broker.temporal.keys import RECORDER_GROUP
from cityos_broker.temporal.store import HistoryStore

_log = logging.getLogger("cityos.broker.temporal.recorder")
Entry = tuple[bytes | str, dict[bytes, bytes] | None]
_RETRY_SECONDS = 1.0


def _field(fields: dict[bytes, bytes], name: str) -> str:
    value = fields.get(name.encode())
    return as_text(value) if value is not None else ""


def _stored(raw: bytes | None) -> dict[str, Any] | None:
    return orjson.loads(raw) if raw else None


def to_write(entry_id: str, fields: dict[bytes, bytes]) -> HistoryWrite:
    """The history a change-stream entry records; ValueError / JSONDecodeError on a malformed entry."""
    entity_id = _field(fields, "id")
    if not entity_id:
        raise ValueError("change event without an entity id")
    return from_change(
        entry_id,
        entity_id,
        _field(fields, "at"),
        _stored(fields.get(b"before")),
        _stored(fields.get(b"after")),
    )


class HistoryRecorder:
    """Records history from `{t:<tenant>}:changes` for every tenant in `cityos:tenants`."""

    def __init__(
        self,
        redis: RedisClient,
        history: HistoryStore,
        *,
        consumer: str,
        group: str = RECORDER_GROUP,
        batch: int = 200,
        block_ms: int = 1000,
        claim_idle_ms: int = 30_000,
        tenant_refresh: float = 5.0,
    ) -> None:
        self._redis = redis
        self._history = history
        self._consumer = consumer
        self._reader = GroupReader(redis, consumer)
        self._group = group
        self._batch = batch
        self._block_ms = block_ms
        self._claim_idle_ms = claim_idle_ms
        self._tenant_refresh = tenant_refresh
        self._streams: dict[str, str] = {}  # stream key -> tenant
        self._tenants_at = 0.0
        self._claimed_at = 0.0
        self._own_pending_done = False

    async def run(self, stopping: asyncio.Event) -> None:
        """Record until `stopping` is set (within one block time); Redis failures are retried."""
        while not stopping.is_set():
            try:
                await self.step()
            except (RedisError, OSError) as error:
                _log.warning(
                    "history recorder: Redis failed", extra={"error": f"{type(error).__name__}: {error}"}
                )
                await asyncio.sleep(_RETRY_SECONDS)

    async def step(self, *, block: bool = True) -> int:
        """One round: new tenants, own pending entries, idle entries of others, then new entries."""
        now = time.monotonic()
        if now - self._tenants_at >= self._tenant_refresh or not self._streams:
            await self._refresh_tenants()
            self._tenants_at = now
        if not self._streams:
            if block:
                await asyncio.sleep(self._block_ms / 1000.0)
            return 0
        done = 0
        if not self._own_pending_done:
            # After a restart under the same name, first re-read what this consumer had read but not acked.
            while pending := await self._read({key: "0" for key in self._streams}, block=False):
                done += pending
            self._own_pending_done = True
        if now - self._claimed_at >= self._claim_idle_ms / 2000.0:
            done += await self._claim_idle()
            self._claimed_at = now
        done += await self._read({key: ">" for key in self._streams}, block=block)
        return done

    async def drain(self) -> int:
        """Record everything available now without blocking (for tests and benchmarks)."""
        total = 0
        while True:
            self._tenants_at = 0.0
            done = await self.step(block=False)
            total += done
            if not done:
                return total

    async def _refresh_tenants(self) -> None:
        tenants = sorted(as_text(t) for t in await self._redis.smembers(TENANTS_KEY))
        known, self._streams = self._streams, {}
        for tenant in tenants:
            key = TenantKeys(tenant).changes
            if key in known:
                self._streams[key] = tenant
                continue
            try:
                # From "0": earlier events are history too, as far as the stream still holds them.
                await self._redis.xgroup_create(key, self._group, id="0", mkstream=True)
            except ResponseError as error:
                if "BUSYGROUP" not in str(error):
                    raise
            self._streams[key] = tenant

    async def _read(self, streams: dict[str, str], *, block: bool) -> int:
        try:
            replies = await self._reader.read(
                self._group, streams, count=self._batch, block_ms=self._block_ms if block else None
            )
        except ResponseError as error:
            if "NOGROUP" not in str(error):
                raise
            # A purged tenant took its stream (and group) with it: forget the streams and look again.
            self._streams.clear()
            self._tenants_at = 0.0
            await self._refresh_tenants()
            return 0
        done = 0
        for stream, entries in replies:
            done += await self._record(stream, entries)
        return done

    async def _claim_idle(self) -> int:
        done = 0
        for key in list(self._streams):
            start = "0-0"
            while True:
                reply = await self._redis.xautoclaim(
                    key, self._group, self._consumer, self._claim_idle_ms, start_id=start, count=self._batch
                )
                next_id, entries = as_text(reply[0]), cast(list[Entry], reply[1])
                done += await self._record(key, entries)
                if next_id == "0-0" or not entries:
                    break
                start = next_id
        return done

    async def _record(self, stream: str, entries: Sequence[Entry]) -> int:
        """Record a batch of one stream, then acknowledge it (malformed and trimmed entries too)."""
        if not entries:
            return 0
        tenant = self._streams.get(stream)
        if tenant is None:
            return 0
        writes: list[HistoryWrite] = []
        ids: list[str] = []
        for raw_id, fields in entries:
            entry_id = as_text(raw_id)
            ids.append(entry_id)
            if not fields:
                continue  # trimmed from the stream before it was read: nothing left to record
            try:
                writes.append(to_write(entry_id, fields))
            except (ValueError, KeyError, TypeError, orjson.JSONDecodeError) as error:
                # A malformed event can never succeed: log it and acknowledge it instead of looping on it.
                _log.error(
                    "history recorder: skipping malformed change event",
                    extra={"entry": entry_id, "error": str(error)},
                )
        await self._history.record(tenant, writes)
        await self._redis.xack(stream, self._group, *ids)
        return len(ids)
