"""The durable notification pipeline in Redis: change-stream consumption, the pending-notification stream,
de-duplication markers, dead letters and leases.

Two consumer groups per tenant: `notifier` on `{t:T}:changes` (matching) and `sender` on `{t:T}:notify`
(delivery). A change entry is acknowledged in the same MULTI that enqueues its notifications, and a
notification entry is acknowledged (and deleted) only once it was sent or dead-lettered, so a worker that
dies at any point leaves its entries pending for another worker to claim (XAUTOCLAIM after an idle time).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any, NamedTuple

import orjson
from cityos_runtime.redis_connect import RedisClient
from redis.exceptions import ResponseError

from cityos_broker.store.keys import as_text
from cityos_broker.store.stream_reads import GroupReader
from cityos_broker.subscriptions.notification import Outgoing
from cityos_broker.subscriptions.store import CHANGES_GROUP, SubscriptionKeys

SENDER_GROUP = "sender"
DEAD_LETTER_MAXLEN = 10_000
Fields = Mapping[bytes, bytes]


class Entry(NamedTuple):
    """One stream entry read or claimed by this consumer."""

    tenant: str
    entry_id: str
    fields: Fields


class Pending(NamedTuple):
    """A queued notification as read back from the notify stream."""

    subscription_id: str
    outgoing: Outgoing
    traceparent: str = ""  # W3C trace context of the write that caused it ("" when none was recorded)


def pending_fields(pending: Pending) -> dict[str, str | bytes]:
    """The notify-stream entry of a notification: a small JSON head and the body (two fields, so queuing
    thousands of notifications packs and parses few arguments)."""
    outgoing = pending.outgoing
    head = [pending.subscription_id, outgoing.id, outgoing.content_type, outgoing.link, pending.traceparent]
    return {"h": orjson.dumps(head), "body": outgoing.body}


def decode_pending(fields: Fields) -> Pending:
    """The notification stored in a notify-stream entry (also the one-field-per-member form that earlier
    versions queued, so entries left by them are still delivered after an upgrade)."""
    head = fields.get(b"h")
    if head is not None:
        sub_id, nid, content_type, link, traceparent = orjson.loads(head)
        return Pending(sub_id, Outgoing(nid, bytes(fields[b"body"]), content_type, link), traceparent)
    return Pending(
        as_text(fields[b"sub"]),
        Outgoing(
            id=as_text(fields[b"nid"]),
            body=bytes(fields[b"body"]),
            content_type=as_text(fields[b"ct"]),
            link=as_text(fields.get(b"link", b"")),
        ),
        as_text(fields.get(b"tp", b"")),
    )


def tenant_of(key: bytes | str) -> str:
    """The tenant of a `{t:<tenant>}:…` key."""
    text = as_text(key)
    return text[3 : text.index("}")]


class NotificationQueue:
    """Redis operations of the notifier, all keyed in the tenant's slot."""

    def __init__(self, redis: RedisClient, consumer: str) -> None:
        self._redis = redis
        self.consumer = consumer
        self._reader = GroupReader(redis, consumer)

    async def ensure_groups(self, tenant: str) -> None:
        """Both consumer groups of a tenant (changes: new entries only; notify: everything)."""
        keys = SubscriptionKeys(tenant)
        for stream, group, start in ((keys.changes, CHANGES_GROUP, "$"), (keys.notify, SENDER_GROUP, "0")):
            try:
                await self._redis.xgroup_create(stream, group, start, mkstream=True)
            except ResponseError as error:
                if "BUSYGROUP" not in str(error):
                    raise

    async def read(self, streams: Sequence[str], group: str, *, count: int, block_ms: int) -> list[Entry]:
        """New entries for this consumer from any of `streams`, blocking up to block_ms (see GroupReader)."""
        try:
            reply = await self._reader.read(
                group, dict.fromkeys(streams, ">"), count=count, block_ms=block_ms
            )
        except ResponseError as error:
            if "NOGROUP" in str(error):  # a tenant was purged under us; the next refresh drops it
                return []
            raise
        return [
            Entry(tenant_of(stream), as_text(entry_id), fields)
            for stream, entries in reply
            for entry_id, fields in entries
            if fields is not None
        ]

    async def claim(self, stream: str, group: str, *, min_idle_ms: int, count: int = 100) -> list[Entry]:
        """Take over entries another consumer left unacknowledged for at least `min_idle_ms`."""
        try:
            reply = await self._redis.xautoclaim(
                stream, group, self.consumer, min_idle_ms, "0-0", count=count
            )
        except ResponseError as error:
            if "NOGROUP" in str(error):
                return []
            raise
        tenant = tenant_of(stream)
        return [Entry(tenant, as_text(i), f) for i, f in reply[1] if f is not None]

    async def keep(self, tenant: str, entry_id: str) -> bool:
        """Re-claim our own notify entry (resets its idle time while retries run); False if it moved."""
        keys = SubscriptionKeys(tenant)
        claimed = await self._redis.xclaim(
            keys.notify, SENDER_GROUP, self.consumer, 0, [entry_id], justid=True
        )
        return bool(claimed)

    async def enqueue(self, tenant: str, results: Sequence[tuple[str, Sequence[Pending]]]) -> None:
        """Queue notifications and acknowledge the change entries that produced them, in one MULTI.

        `results` pairs a change entry id ("" for none, e.g. a timeInterval notification) with its
        notifications (possibly none: the entry is acknowledged all the same).
        """
        if not results:
            return
        keys = SubscriptionKeys(tenant)
        async with self._redis.pipeline(transaction=True) as pipe:
            for _, notifications in results:
                for pending in notifications:
                    fields: Any = pending_fields(pending)
                    pipe.xadd(keys.notify, fields)
            acks = [change_id for change_id, _ in results if change_id]
            if acks:
                pipe.xack(keys.changes, CHANGES_GROUP, *acks)
            await pipe.execute()
        if any(notifications for _, notifications in results):
            self._reader.wake(SENDER_GROUP)  # on a cluster, deliver now rather than after the idle pause

    async def was_sent(self, tenant: str, notification_id: str) -> bool:
        """True when this notification id was delivered already (a claimed duplicate)."""
        return bool(await self._redis.exists(SubscriptionKeys(tenant).sent(notification_id)))

    async def drop(self, tenant: str, entry_id: str) -> None:
        """Acknowledge and delete a notify entry that is not to be sent (delivered ones: `Completions`)."""
        keys = SubscriptionKeys(tenant)
        async with self._redis.pipeline(transaction=True) as pipe:
            pipe.xack(keys.notify, SENDER_GROUP, entry_id)
            pipe.xdel(keys.notify, entry_id)
            await pipe.execute()

    async def dead_letter(self, tenant: str, entry_id: str, pending: Pending, reason: str, at: str) -> None:
        """Move a notification that exhausted its retries to the tenant's dead-letter stream."""
        keys = SubscriptionKeys(tenant)
        async with self._redis.pipeline(transaction=True) as pipe:
            pipe.xadd(
                keys.dead,
                {
                    "sub": pending.subscription_id,
                    "nid": pending.outgoing.id,
                    "body": pending.outgoing.body,
                    "reason": reason,
                    "at": at,
                },
                maxlen=DEAD_LETTER_MAXLEN,
                approximate=True,
            )
            pipe.xack(keys.notify, SENDER_GROUP, entry_id)
            pipe.xdel(keys.notify, entry_id)
            await pipe.execute()

    async def lease(self, key: str, owner: str, ttl_s: float) -> bool:
        """Take a lease (SET NX PX); True when `owner` holds it (also when it already did)."""
        if await self._redis.set(key, owner, nx=True, px=max(1, int(ttl_s * 1000))):
            return True
        current = await self._redis.get(key)
        return current is not None and as_text(current) == owner
