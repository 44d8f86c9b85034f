"""Group commit of delivered notifications: one MULTI per tenant for every delivery that ends together.

A delivered notification needs its de-duplication marker set, its notify entry acknowledged and deleted,
and its subscription's status counted. Done one MULTI per notification, those round trips were the
notifier's largest Redis cost; here a delivery that ends while a flush is running joins the next flush, so
under load one MULTI (per tenant) covers dozens of deliveries and at low load a delivery is flushed at once.

The guarantees are those of a single MULTI: a delivery's task returns only after its flush committed, so
an entry is never acknowledged before it was sent, and a flush that fails leaves its entries pending for
the claim loop (sent again, under the same notification id). Status counts are summed per subscription
(`timesSent` += n, `lastSuccess` / `lastNotification` = the flush time).
"""

from __future__ import annotations

import asyncio
from collections import Counter
from dataclasses import dataclass
from typing import Any

from cityos_runtime.redis_connect import RedisClient
from redis.exceptions import NoScriptError

from cityos_broker.store import utc_now
from cityos_broker.subscriptions.queue import SENDER_GROUP
from cityos_broker.subscriptions.store import SubscriptionKeys, SubscriptionStore


@dataclass(frozen=True, slots=True)
class Delivered:
    """One notification that reached its endpoint."""

    tenant: str
    entry_id: str
    notification_id: str
    subscription_id: str


class Completions:
    """Acknowledges delivered notifications in batches (see the module docstring)."""

    def __init__(self, redis: RedisClient, subscriptions: SubscriptionStore, sent_ttl_s: float) -> None:
        self._redis = redis
        self._subs = subscriptions
        self._sent_ms = max(1, int(sent_ttl_s * 1000))
        self._waiting: list[Delivered] = []
        self._next: asyncio.Future[None] | None = None
        self._flusher: asyncio.Task[None] | None = None

    async def delivered(self, done: Delivered) -> None:
        """Record a delivery; returns once it is committed (raises what the flush raised)."""
        self._waiting.append(done)
        if self._next is None:
            self._next = asyncio.get_running_loop().create_future()
            self._next.add_done_callback(_retrieve)
        batch = self._next
        if self._flusher is None or self._flusher.done():
            self._flusher = asyncio.create_task(self._run(), name="notifier-completions")
        # Shielded: one delivery being cancelled (the worker stopping) must not cancel the others' flush.
        await asyncio.shield(batch)

    async def aclose(self) -> None:
        """Wait for a flush in progress (deliveries still waiting are committed or failed)."""
        if self._flusher is not None and not self._flusher.done():
            self._flusher.cancel()
            await asyncio.gather(self._flusher, return_exceptions=True)

    async def _run(self) -> None:
        try:
            while self._waiting:
                # One loop turn: deliveries whose answers arrived in the same turn join this batch.
                await asyncio.sleep(0)
                batch, future = self._waiting, self._next
                self._waiting, self._next = [], None
                assert future is not None
                try:
                    await self._flush(batch)
                except asyncio.CancelledError:
                    future.cancel()
                    raise
                except Exception as error:
                    future.set_exception(error)
                else:
                    future.set_result(None)
        except asyncio.CancelledError:
            if self._next is not None:  # deliveries that had not joined a flush yet: not acknowledged
                self._next.cancel()
            self._waiting, self._next = [], None
            raise

    async def _flush(self, batch: list[Delivered]) -> None:
        by_tenant: dict[str, list[Delivered]] = {}
        for done in batch:
            by_tenant.setdefault(done.tenant, []).append(done)
        at = utc_now()
        await asyncio.gather(*(self._commit(tenant, own, at) for tenant, own in by_tenant.items()))

    async def _commit(self, tenant: str, own: list[Delivered], at: str) -> None:
        """One MULTI (the tenant's slot): markers, XACK, XDEL, then the status of each subscription."""
        keys = SubscriptionKeys(tenant)
        counts = Counter(done.subscription_id for done in own)
        ids = [done.entry_id for done in own]
        async with self._redis.pipeline(transaction=True) as pipe:
            for done in own:
                pipe.set(keys.sent(done.notification_id), b"1", px=self._sent_ms)
            pipe.xack(keys.notify, SENDER_GROUP, *ids)
            pipe.xdel(keys.notify, *ids)
            fixed = len(pipe)
            for sub_id, count in counts.items():
                self._subs.queue_record(pipe, tenant, sub_id, "ok", at, count)
            replies: list[Any] = await pipe.execute(raise_on_error=False)
        for reply in replies[:fixed]:
            if isinstance(reply, Exception):
                raise reply
        for (sub_id, count), reply in zip(counts.items(), replies[fixed:], strict=True):
            if isinstance(reply, NoScriptError):  # Redis lost its script cache: count them on their own
                await self._subs.record(tenant, sub_id, "ok", at, count)
            elif isinstance(reply, Exception):
                raise reply


def _retrieve(future: asyncio.Future[None]) -> None:
    """Mark a failed batch's error as seen, also when every delivery waiting on it was cancelled."""
    if not future.cancelled():
        future.exception()
