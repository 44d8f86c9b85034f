"""The notifier: one per broker replica; replicas share the work through Redis consumer groups.

Loops: tenant discovery (`cityos:tenants`, tenants with subscriptions), matching (change streams →
notify streams), delivery (notify streams → endpoints, retries, dead letters), take-over of entries a
dead consumer left pending (XAUTOCLAIM), and timeInterval notifications (one owner per period by lease).
"""

from __future__ import annotations

import asyncio
import logging
import os
import socket
import time
import uuid
from collections.abc import Awaitable, Callable

from cityos_runtime.problems import ProblemError
from cityos_runtime.redis_connect import RedisClient
from opentelemetry import metrics, trace
from opentelemetry.trace.propagation.tracecontext import TraceContextTextMapPropagator
from redis.exceptions import RedisError

from cityos_broker.ngsild.contexts import ContextResolver
from cityos_broker.store import EntityStore, utc_now
from cityos_broker.store.keys import TENANTS_KEY, as_text
from cityos_broker.subscriptions.cache import Ready, SubscriptionCache
from cityos_broker.subscriptions.completions import Completions, Delivered
from cityos_broker.subscriptions.matcher import ChangeEvent
from cityos_broker.subscriptions.notification import build_notification
from cityos_broker.subscriptions.periods import Claim, PeriodLedger
from cityos_broker.subscriptions.policy import NotificationPolicy, OwnerView, TenantData
from cityos_broker.subscriptions.queue import (
    SENDER_GROUP,
    Entry,
    NotificationQueue,
    Pending,
    decode_pending,
)
from cityos_broker.subscriptions.senders import DeliveryError, Senders, backoff_delays
from cityos_broker.subscriptions.settings import NotifierSettings
from cityos_broker.subscriptions.store import CHANGES_GROUP, SubscriptionKeys, SubscriptionStore

_log = logging.getLogger("cityos.broker.notifier")
_READ_BLOCK_MS = 500
_BATCH = 100
_PERIODIC_TICK_S = 0.25
_W3C = TraceContextTextMapPropagator()


def _cause(traceparent: str) -> list[trace.Link]:
    """A link to the span of the write that caused a notification (none when it was not recorded)."""
    if not traceparent:
        return []
    context = _W3C.extract({"traceparent": traceparent})
    span_context = trace.get_current_span(context).get_span_context()
    return [trace.Link(span_context)] if span_context.is_valid else []


def default_consumer_name() -> str:
    """A consumer name unique to this process (host, pid and a random suffix)."""
    return f"{socket.gethostname()}-{os.getpid()}-{uuid.uuid4().hex[:8]}"


class NotifierWorker:
    """Matches change events against subscriptions and delivers the notifications, at least once."""

    def __init__(
        self,
        redis: RedisClient,
        subscriptions: SubscriptionStore,
        entities: EntityStore,
        resolver: ContextResolver,
        settings: NotifierSettings,
        *,
        allow_private_urls: bool,
        max_limit: int,
        consumer: str | None = None,
        policy: NotificationPolicy | None = None,
        tracer: trace.Tracer | None = None,
        meter: metrics.Meter | None = None,
    ) -> None:
        self._redis = redis
        self._subs = subscriptions
        self._entities = entities
        self._settings = settings
        self._max_limit = max_limit
        self._queue = NotificationQueue(redis, consumer or default_consumer_name())
        self._ledger = PeriodLedger(redis, self._queue.consumer)
        self._cache = SubscriptionCache(subscriptions, resolver)
        self._senders = Senders(
            timeout=settings.timeout, allow_private=allow_private_urls, concurrency=settings.concurrency
        )
        self._completions = Completions(redis, subscriptions, settings.sent_ttl)
        # What each subscription's owner may read now (identity's policies; without identity: everything).
        self._policy = policy or TenantData()
        self._tracer = tracer or trace.get_tracer("cityos.broker.notifier")
        self._outcomes = (meter or metrics.get_meter("cityos.broker.notifier")).create_counter(
            "cityos.broker.notifications", description="notification delivery attempts by outcome"
        )
        self._tenants: list[str] = []
        self._loops: list[asyncio.Task[None]] = []
        self._inflight: set[asyncio.Task[None]] = set()
        self._stopping = False
        # timeInterval: the last period known done, per subscription (saves a script call per tick).
        self._periods: dict[str, int] = {}

    @property
    def consumer(self) -> str:
        return self._queue.consumer

    async def start(self) -> None:
        """Discover tenants once, then run every loop in the background."""
        await self._refresh_tenants()
        for name, loop in (
            ("tenants", self._tenant_loop),
            ("match", self._match_loop),
            ("deliver", self._deliver_loop),
            ("claim", self._claim_loop),
            ("periodic", self._periodic_loop),
        ):
            self._loops.append(asyncio.create_task(self._guarded(name, loop), name=f"notifier-{name}"))

    async def stop(self) -> None:
        """Cancel every loop and delivery; unacknowledged entries stay pending for the next claim."""
        self._stopping = True
        tasks = [*self._loops, *self._inflight]
        while tasks:
            # Cancel again until done: a client library may swallow one cancellation (redis-py can turn it
            # into a connection error), and the loop guard must then see `_stopping` and return.
            for task in tasks:
                task.cancel()
            await asyncio.wait(tasks, timeout=0.05)
            tasks = [task for task in tasks if not task.done()]
        self._loops.clear()
        self._inflight.clear()
        await self._completions.aclose()
        await self._senders.aclose()
        await self._policy.aclose()

    async def _guarded(self, name: str, loop: Callable[[], Awaitable[None]]) -> None:
        """Run a loop forever: a Redis outage or a bug is logged and the loop resumes after a pause."""
        while not self._stopping:
            try:
                await loop()
            except asyncio.CancelledError:
                raise
            except (RedisError, OSError) as error:
                _log.warning("notifier %s loop: Redis unavailable (%s); retrying", name, type(error).__name__)
            except Exception:
                _log.exception("notifier %s loop failed; restarting it", name)
            if not self._stopping:
                await asyncio.sleep(1.0)

    # Tenants -----------------------------------------------------------------------------------------------

    async def _refresh_tenants(self) -> None:
        known = sorted(as_text(t) for t in await self._redis.smembers(TENANTS_KEY))
        active = [t for t, has in zip(known, await self._subs.has_any(known), strict=True) if has]
        for tenant in set(active) - set(self._tenants):
            await self._queue.ensure_groups(tenant)
        for tenant in set(self._tenants) - set(active):
            self._cache.forget(tenant)
        self._tenants = active

    async def _tenant_loop(self) -> None:
        while not self._stopping:
            await asyncio.sleep(self._settings.tenant_refresh)
            await self._refresh_tenants()

    # Matching ----------------------------------------------------------------------------------------------

    async def _match_loop(self) -> None:
        while not self._stopping:
            streams = [SubscriptionKeys(t).changes for t in self._tenants]
            if not streams:
                await asyncio.sleep(_READ_BLOCK_MS / 1000)
                continue
            entries = await self._queue.read(streams, CHANGES_GROUP, count=_BATCH, block_ms=_READ_BLOCK_MS)
            await self._match(entries)

    async def _match(self, entries: list[Entry]) -> None:
        """Queue the notifications of change events and acknowledge them: one MULTI per tenant."""
        by_tenant: dict[str, list[Entry]] = {}
        for entry in entries:
            by_tenant.setdefault(entry.tenant, []).append(entry)
        for tenant, own in by_tenant.items():
            view = await self._view(tenant)
            if view is None:
                continue  # left pending: the claim loop retries them once identity answers
            subs = await self._cache.get(tenant)  # one version check per tenant and batch
            results = [
                (entry.entry_id, await self._notifications(tenant, entry, subs, view)) for entry in own
            ]
            await self._queue.enqueue(tenant, results)

    async def _view(self, tenant: str) -> OwnerView | None:
        """The tenant's policies for this batch; None when identity has never answered and does not now."""
        try:
            return await self._policy.view(tenant)
        except ProblemError as problem:
            _log.warning(
                "tenant policies unavailable; its notifications wait",
                extra={"tenant": tenant, "error": problem.detail},
            )
            return None

    async def _notifications(
        self, tenant: str, entry: Entry, subs: list[Ready], view: OwnerView
    ) -> list[Pending]:
        """The notifications one change event causes (an undecodable event causes none and is logged)."""
        try:
            event = ChangeEvent.from_fields(entry.entry_id, entry.fields)
            if not view.serving:
                return []  # a suspended or deleted tenant notifies nothing
            notifications: list[Pending] = []
            for ready in subs:
                compiled = ready.compiled
                if not compiled.active():
                    continue
                seen = view.event(compiled.sub, event)  # matched on what the owner may read only
                if seen is None or not compiled.matches(seen):
                    continue
                throttling = compiled.sub.get("throttling")
                if throttling is not None:
                    # One notification per throttling period across replicas; the lease names the event, so
                    # a take-over of this same entry after a crash still sends it.
                    lease = SubscriptionKeys(tenant).lease("throttle", compiled.id)
                    if not await self._queue.lease(lease, entry.entry_id, float(throttling)):
                        continue
                notifications.append(self._notification(ready, seen))
            return notifications
        except RedisError:
            raise  # the batch stays pending; the claim loop retries it
        except Exception:
            _log.exception("change event dropped", extra={"tenant": tenant, "entry": entry.entry_id})
            return []

    def _notification(self, ready: Ready, event: ChangeEvent) -> Pending:
        """The notification of a change as its subscription's owner sees it (`OwnerView.event`)."""
        sub = ready.compiled.sub
        deleted = event.after is None
        outgoing = build_notification(
            sub,
            event.entry_id,
            [(event.before, event.current)],
            ready.terms,
            event.at or utc_now(),
            deleted=deleted,
        )
        return Pending(sub["id"], outgoing, event.traceparent)

    # Delivery ----------------------------------------------------------------------------------------------

    async def _deliver_loop(self) -> None:
        while not self._stopping:
            free = self._settings.concurrency - len(self._inflight)
            if free <= 0:
                await asyncio.wait(self._inflight, return_when=asyncio.FIRST_COMPLETED)
                continue
            streams = [SubscriptionKeys(t).notify for t in self._tenants]
            if not streams:
                await asyncio.sleep(_READ_BLOCK_MS / 1000)
                continue
            entries = await self._queue.read(
                streams, SENDER_GROUP, count=min(free, _BATCH), block_ms=_READ_BLOCK_MS
            )
            await self._spawn(entries, claimed=False)

    async def _spawn(self, entries: list[Entry], *, claimed: bool) -> None:
        """Start a delivery task per entry (the subscriptions are looked up once per tenant)."""
        subs: dict[str, dict[str, Ready]] = {}
        serving: dict[str, bool] = {}
        for entry in entries:
            if entry.tenant not in subs:
                subs[entry.tenant] = {r.compiled.id: r for r in await self._cache.get(entry.tenant)}
                # Filtered when matched; here only the tenant's state (identity unreachable: deliver).
                view = await self._view(entry.tenant)
                serving[entry.tenant] = view is None or view.serving
            if not serving[entry.tenant]:
                # Suspended or deleted since it was queued: not sent, and not kept for a later resume.
                await self._queue.drop(entry.tenant, entry.entry_id)
                continue
            delivery = self._deliver(entry, subs[entry.tenant], claimed)
            task = asyncio.create_task(delivery, name=f"notify-{entry.entry_id}")
            self._inflight.add(task)
            task.add_done_callback(self._inflight.discard)

    async def _deliver(self, entry: Entry, subs: dict[str, Ready], claimed: bool) -> None:
        try:
            pending = decode_pending(entry.fields)
            # One span per notification, linked to the write that caused it; senders pass its W3C trace
            # context on to the endpoint.
            with self._tracer.start_as_current_span(
                "notify",
                kind=trace.SpanKind.PRODUCER,
                attributes={"cityos.tenant": entry.tenant},
                links=_cause(pending.traceparent),
            ):
                await self._deliver_once(entry, pending, subs, claimed)
        except asyncio.CancelledError:
            raise
        except Exception:
            # Left pending: another claim retries it after the idle time.
            _log.exception("notification delivery failed", extra={"tenant": entry.tenant})

    async def _deliver_once(
        self, entry: Entry, pending: Pending, subs: dict[str, Ready], claimed: bool
    ) -> None:
        """Send with retries; acknowledge on success or after dead-lettering, never before."""
        tenant, settings = entry.tenant, self._settings
        outgoing = pending.outgoing
        # Only a taken-over entry can have been sent already (by a worker that died before acknowledging).
        if claimed and await self._queue.was_sent(tenant, outgoing.id):
            await self._queue.drop(tenant, entry.entry_id)
            return
        ready = subs.get(pending.subscription_id)
        if ready is None or not ready.compiled.active():
            await self._queue.drop(tenant, entry.entry_id)  # deleted, paused or expired
            return
        endpoint = ready.compiled.sub["notification"]["endpoint"]
        delays = backoff_delays(settings.max_attempts, settings.backoff, settings.backoff_max)
        for attempt in range(settings.max_attempts):
            try:
                await self._senders.send(tenant, endpoint, outgoing)
            except DeliveryError as error:
                final = error.permanent or attempt == settings.max_attempts - 1
                self._outcomes.add(1, {"outcome": "dead" if final else "failed"})
                await self._subs.record(
                    tenant, pending.subscription_id, "dead" if final else "failed", utc_now()
                )
                if final:
                    _log.warning(
                        "notification dead-lettered",
                        extra={
                            "tenant": tenant,
                            "subscription": pending.subscription_id,
                            "error": str(error),
                        },
                    )
                    await self._queue.dead_letter(tenant, entry.entry_id, pending, str(error), utc_now())
                    return
                await asyncio.sleep(delays[attempt])
                if not await self._queue.keep(tenant, entry.entry_id):
                    return  # another worker took it over meanwhile
                continue
            self._outcomes.add(1, {"outcome": "ok"})
            # Marker, XACK, XDEL and status, committed with the other deliveries ending now (group commit).
            await self._completions.delivered(
                Delivered(tenant, entry.entry_id, outgoing.id, pending.subscription_id)
            )
            return

    # Take-over ---------------------------------------------------------------------------------------------

    async def _claim_loop(self) -> None:
        idle_ms = int(self._settings.claim_idle * 1000)
        while not self._stopping:
            await asyncio.sleep(max(0.05, self._settings.claim_idle / 2))
            for tenant in list(self._tenants):
                keys = SubscriptionKeys(tenant)
                await self._match(await self._queue.claim(keys.changes, CHANGES_GROUP, min_idle_ms=idle_ms))
                claimed = await self._queue.claim(keys.notify, SENDER_GROUP, min_idle_ms=idle_ms)
                await self._spawn(claimed, claimed=True)

    # timeInterval ------------------------------------------------------------------------------------------

    async def _periodic_loop(self) -> None:
        while not self._stopping:
            await asyncio.sleep(_PERIODIC_TICK_S)
            now = time.time()
            for tenant in list(self._tenants):
                periodic = [r for r in await self._cache.get(tenant) if r.compiled.periodic]
                if not periodic:
                    continue
                view = await self._view(tenant)
                if view is None:
                    continue  # nothing is claimed: the period is done once identity answers
                for ready in periodic:
                    if ready.compiled.active(now):
                        await self._periodic(tenant, ready, now, view)

    async def _periodic(self, tenant: str, ready: Ready, now: float, view: OwnerView) -> None:
        """Notify the matching entities once per period: the replica holding the period's lease queues the
        notification and marks the period done in one script; a lease left by a dead replica expires and
        another replica does the period (see `periods`)."""
        sub = ready.compiled.sub
        interval = float(sub["timeInterval"])
        period = int(now // interval)
        if self._periods.get(sub["id"]) == period:
            return
        if len(self._periods) > 100_000:
            self._periods.clear()
        # Short enough that a dead owner's period is taken over within the period.
        lease_s = max(0.2, min(interval / 2, self._settings.claim_idle))
        claim = await self._ledger.claim(tenant, sub["id"], interval, period, lease_s)
        if claim is Claim.BUSY:
            return  # look again next tick: the owner may die before finishing
        if claim is Claim.MINE:
            await self._ledger.finish(
                tenant,
                sub["id"],
                interval,
                period,
                await self._period_notification(tenant, ready, period, view),
            )
        self._periods[sub["id"]] = period

    async def _period_notification(
        self, tenant: str, ready: Ready, period: int, view: OwnerView
    ) -> Pending | None:
        """The notification of one period: the matching entities the owner may read (None: nothing)."""
        sub = ready.compiled.sub
        if not view.serving:
            return None
        entities, _ = await self._entities.query(tenant, ready.compiled.filter, limit=self._max_limit)
        visible = [e for e in (view.visible(sub, e) for e in entities) if e is not None]
        if view.restricted(sub):
            # Matched again on what the owner may read (a q on a hidden attribute must not select).
            visible = [e for e in visible if ready.compiled.filter.matches(e)]
        if not visible:
            return None
        outgoing = build_notification(
            sub, f"interval:{period}", [(None, e) for e in visible], ready.terms, utc_now()
        )
        return Pending(sub["id"], outgoing)
