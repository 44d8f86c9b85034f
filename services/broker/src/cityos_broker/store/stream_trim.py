"""Trim the per-tenant change streams behind their slowest consumer group, on one replica at a time."""

from __future__ import annotations

import asyncio
import contextlib
import logging

from cityos_runtime.redis_connect import RedisClient
from redis.exceptions import RedisError, ResponseError

from cityos_broker.store.keys import TENANTS_KEY, TenantKeys, as_text

STREAM_TRIM_LEASE_KEY = "cityos:lease:stream-trim"
_log = logging.getLogger("cityos.broker.store.stream_trim")
# Renew the lease only while we still own it; release it only if it is still ours.
_RENEW = (
    "if redis.call('GET', KEYS[1]) == ARGV[1] then "
    "return redis.call('PEXPIRE', KEYS[1], ARGV[2]) end return 0"
)
_RELEASE = "if redis.call('GET', KEYS[1]) == ARGV[1] then return redis.call('DEL', KEYS[1]) end return 0"

StreamId = tuple[int, int]


def parse_stream_id(raw: bytes | str) -> StreamId:
    """`<ms>-<seq>` as a comparable pair (a bare `<ms>` means sequence 0)."""
    text = as_text(raw)
    ms, _, seq = text.partition("-")
    return int(ms), int(seq or 0)


def format_stream_id(stream_id: StreamId) -> str:
    """The pair back as `<ms>-<seq>`."""
    return f"{stream_id[0]}-{stream_id[1]}"


def oldest_needed(last_delivered: StreamId, pending_min: StreamId | None) -> StreamId:
    """The oldest entry a group may still need: its oldest pending entry, else its read position."""
    # Entries up to last-delivered-id that are not pending were acknowledged; the entry at the position
    # itself is kept too (MINID keeps ids >= the bound), which costs one entry and needs no id arithmetic.
    if pending_min is not None and pending_min < last_delivered:
        return pending_min
    return last_delivered


class StreamTrimJob:
    """Periodic trim of every tenant's change stream, guarded by a Redis lease so one replica trims."""

    def __init__(
        self,
        redis: RedisClient,
        *,
        owner: str,
        ungrouped_cap: int,
        interval: float = 30.0,
        lease_ms: int = 60_000,
    ) -> None:
        self._redis = redis
        self._owner = owner
        self._cap = ungrouped_cap
        self._interval = interval
        self._lease_ms = lease_ms
        self._stopping = asyncio.Event()
        self._task: asyncio.Task[None] | None = None

    def start(self) -> None:
        """Run in the background until `stop`."""
        if self._task is None:
            self._stopping.clear()
            self._task = asyncio.create_task(self.run_forever(self._stopping), name="change-stream-trim")

    async def stop(self, grace: float = 3.0) -> None:
        """Let a running pass finish (bounded by `grace`), then cancel it."""
        self._stopping.set()
        task, self._task = self._task, None
        if task is None:
            return
        _, pending = await asyncio.wait({task}, timeout=grace)
        for left in pending:
            left.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await left

    async def run_forever(self, stopping: asyncio.Event) -> None:
        """Trim every `interval` seconds until `stopping` is set; a failed pass is retried next time."""
        # Wait one interval first: the recorder creates its group in its own task, and a pass before that
        # would see a stream without groups and apply only the cap.
        while not stopping.is_set():
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(stopping.wait(), self._interval)
            if stopping.is_set():
                return
            try:
                removed = await self.run_once()
                if removed:
                    _log.info("trimmed change streams", extra={"entries": removed})
            except (RedisError, OSError) as error:
                _log.warning("change stream trim failed", extra={"error": f"{type(error).__name__}: {error}"})
            except Exception:
                _log.exception("change stream trim failed unexpectedly")

    async def run_once(self) -> int:
        """One pass if this replica gets the lease; returns how many entries were removed."""
        if not await self._redis.set(STREAM_TRIM_LEASE_KEY, self._owner, nx=True, px=self._lease_ms):
            return 0
        try:
            removed = 0
            for tenant in sorted(as_text(t) for t in await self._redis.smembers(TENANTS_KEY)):
                if not await self._renew():
                    _log.warning("change stream trim lease lost; stopping this pass")
                    return removed
                removed += await self.trim(TenantKeys(tenant).changes)
            return removed
        finally:
            await self._redis.eval(_RELEASE, 1, STREAM_TRIM_LEASE_KEY, self._owner)

    async def trim(self, stream: str) -> int:
        """Trim one stream behind its slowest existing group, or to the cap when it has no group."""
        try:
            groups = await self._redis.xinfo_groups(stream)
        except ResponseError:
            return 0  # no such key: the tenant has not written anything yet
        if not groups:
            # Nobody reads this stream yet: only a generous cap, so a stream never grows without bound.
            return int(await self._redis.xtrim(stream, maxlen=self._cap, approximate=False))
        bound: StreamId | None = None
        for group in groups:
            name = group["name"]
            summary = await self._redis.xpending(stream, name)
            pending_min = parse_stream_id(summary["min"]) if summary.get("pending") else None
            needed = oldest_needed(parse_stream_id(group["last-delivered-id"]), pending_min)
            bound = needed if bound is None or needed < bound else bound
        if bound is None or bound == (0, 0):
            return 0
        return int(await self._redis.xtrim(stream, minid=format_stream_id(bound), approximate=False))

    async def _renew(self) -> bool:
        return bool(
            await self._redis.eval(_RENEW, 1, STREAM_TRIM_LEASE_KEY, self._owner, str(self._lease_ms))
        )
