"""The history in Redis: record instances atomically, read time ranges in one pipeline, delete."""

from __future__ import annotations

from collections.abc import Callable, Iterable, Sequence
from typing import Any, cast

import orjson
from cityos_runtime.redis_connect import RedisClient

from cityos_broker.store.keys import as_text
from cityos_broker.store.scripts import LuaScript
from cityos_broker.temporal.changes import HistoryWrite, Instance, encode_instance, latest_state
from cityos_broker.temporal.keys import HistoryKeys
from cityos_broker.temporal.scripts import RECORD

_FIRST_OP_SLOT = 4  # KEYS 1-3 of the record script: entity hash, ids, attributes-with-history
Points = list[tuple[float, Instance]]


def _record_call(keys: HistoryKeys, write: HistoryWrite) -> tuple[list[str], list[Any]]:
    call_keys = [keys.entity(write.entity_id), keys.ids, keys.attributes(write.entity_id)]
    ops: list[Any] = []
    slots: dict[str, int] = {}

    def slot(key: str) -> int:
        if key not in slots:
            call_keys.append(key)
            slots[key] = len(call_keys)
        return slots[key]

    attrs: set[str] = set()
    for iri, ms, instance in write.instances:
        ops += ["Z", slot(keys.instances(write.entity_id, iri)), repr(ms), encode_instance(instance).decode()]
        attrs.add(iri)
    for iri in sorted(attrs):
        ops += ["A", iri]
    for type_iri in write.types:
        ops += ["T", slot(keys.type_index(type_iri))]
    for name, value in write.fields.items():
        ops += ["F", name, write.seq, value]
    return call_keys, [write.entity_id, orjson.dumps(ops)]


def _decode_points(rows: Sequence[tuple[bytes, float]]) -> Points:
    return [(float(score), orjson.loads(member)) for member, score in rows]


class HistoryStore:
    """Temporal entities of every tenant: latest state, per-attribute instance zsets, archived-day sets."""

    def __init__(self, redis: RedisClient) -> None:
        self._redis = redis
        self._record = LuaScript(RECORD)

    @property
    def redis(self) -> RedisClient:
        return self._redis

    async def load_scripts(self) -> None:
        await self._record.load(self._redis)

    async def record(self, tenant: str, writes: Sequence[HistoryWrite]) -> None:
        """Record writes (one script call each, pipelined); a re-recorded write changes nothing."""
        keys = HistoryKeys(tenant)
        calls = [_record_call(keys, w) for w in writes if not w.empty]
        if len(calls) == 1:
            await self._record.run(self._redis, *calls[0])
            return
        if not calls:
            return
        async with self._redis.pipeline(transaction=False) as pipe:
            for call_keys, args in calls:
                self._record.queue(pipe, call_keys, args)
            replies = await pipe.execute(raise_on_error=False)
        for (call_keys, args), reply in zip(calls, replies, strict=True):
            if isinstance(reply, Exception):
                # NOSCRIPT after a server restart (nothing ran), or a real error: run it once more alone.
                await self._record.run(self._redis, call_keys, args)

    async def exists(self, tenant: str, entity_id: str) -> bool:
        return await self._redis.zscore(HistoryKeys(tenant).ids, entity_id) is not None

    async def candidate_ids(
        self, tenant: str, ids: Sequence[str] | None, types: Iterable[str] | None
    ) -> list[str]:
        """Temporal entity ids to test against a query, in lexical order (narrowed by ids or types)."""
        keys = HistoryKeys(tenant)
        if ids is not None:
            async with self._redis.pipeline(transaction=False) as pipe:
                for entity_id in ids:
                    pipe.zscore(keys.ids, entity_id)
                scores = await pipe.execute()
            return sorted(i for i, s in zip(ids, scores, strict=True) if s is not None)
        if types is not None:
            found: set[str] = set()
            async with self._redis.pipeline(transaction=False) as pipe:
                for type_iri in types:
                    pipe.zrange(keys.type_index(type_iri), 0, -1)
                for members in await pipe.execute():
                    found.update(as_text(m) for m in cast(list[bytes], members))
            return sorted(found)
        return [as_text(m) for m in cast(list[bytes], await self._redis.zrange(keys.ids, 0, -1))]

    async def states(self, tenant: str, entity_ids: Sequence[str]) -> list[dict[str, Any] | None]:
        """Latest states (stored form) of entities, None where no temporal entity exists."""
        keys = HistoryKeys(tenant)
        async with self._redis.pipeline(transaction=False) as pipe:
            for entity_id in entity_ids:
                pipe.hgetall(keys.entity(entity_id))
                pipe.zscore(keys.ids, entity_id)
            rows = await pipe.execute()
        states: list[dict[str, Any] | None] = []
        for index, entity_id in enumerate(entity_ids):
            fields, score = rows[2 * index], rows[2 * index + 1]
            if score is None:
                states.append(None)
                continue
            states.append(latest_state(entity_id, {as_text(k): as_text(v) for k, v in fields.items()}))
        return states

    async def attributes(self, tenant: str, entity_id: str) -> set[str]:
        return {as_text(m) for m in await self._redis.smembers(HistoryKeys(tenant).attributes(entity_id))}

    async def attributes_many(self, tenant: str, entity_ids: Sequence[str]) -> list[set[str]]:
        """Attributes with history of many entities, in one pipeline."""
        if not entity_ids:
            return []
        keys = HistoryKeys(tenant)
        async with self._redis.pipeline(transaction=False) as pipe:
            for entity_id in entity_ids:
                pipe.smembers(keys.attributes(entity_id))
            rows = await pipe.execute()
        return [{as_text(m) for m in row} for row in rows]

    async def read(
        self, tenant: str, entities: Sequence[tuple[str, Sequence[str]]], bounds: tuple[str, str]
    ) -> list[dict[str, tuple[Points, set[str]]]]:
        """Per entity and attribute: instances scored in `bounds` and archived days (one pipeline)."""
        keys = HistoryKeys(tenant)
        low, high = bounds
        async with self._redis.pipeline(transaction=False) as pipe:
            for entity_id, attrs in entities:
                for iri in attrs:
                    pipe.zrangebyscore(keys.instances(entity_id, iri), low, high, withscores=True)
                    pipe.smembers(keys.archived_days(entity_id, iri))
            rows = await pipe.execute()
        out: list[dict[str, tuple[Points, set[str]]]] = []
        position = 0
        for _, attrs in entities:
            per_attr: dict[str, tuple[Points, set[str]]] = {}
            for iri in attrs:
                points = _decode_points(rows[position])
                days = {as_text(d) for d in rows[position + 1]}
                per_attr[iri] = (points, days)
                position += 2
            out.append(per_attr)
        return out

    async def archived_days(self, tenant: str, entity_id: str, iri: str) -> set[str]:
        """UTC days of the attribute's history that live in S3."""
        days = await self._redis.smembers(HistoryKeys(tenant).archived_days(entity_id, iri))
        return {as_text(d) for d in days}

    async def remove_instances(
        self, tenant: str, entity_id: str, iri: str, drop: Callable[[Instance], bool]
    ) -> int:
        """Remove the attribute's Redis instances for which `drop` is true; returns how many."""
        key = HistoryKeys(tenant).instances(entity_id, iri)
        members = cast(list[bytes], await self._redis.zrange(key, 0, -1))
        doomed = [m for m in members if drop(orjson.loads(m))]
        if doomed:
            await self._redis.zrem(key, *doomed)
        return len(doomed)

    async def delete_attribute(self, tenant: str, entity_id: str, iri: str) -> None:
        """Forget an attribute's whole history in Redis (instances, archived-day index, latest state)."""
        keys = HistoryKeys(tenant)
        async with self._redis.pipeline(transaction=True) as pipe:
            # UNLINK by name: redis-py's cluster pipeline has no queuing `unlink` (its method is a coroutine).
            pipe.execute_command("UNLINK", keys.instances(entity_id, iri), keys.archived_days(entity_id, iri))
            pipe.srem(keys.attributes(entity_id), iri)
            pipe.hdel(keys.entity(entity_id), "a:" + iri)
            await pipe.execute()

    async def delete_entity(self, tenant: str, entity_id: str) -> set[str]:
        """Forget a temporal entity in Redis; returns the attributes that had history (for the archive)."""
        keys = HistoryKeys(tenant)
        attrs = await self.attributes(tenant, entity_id)
        [state] = await self.states(tenant, [entity_id])
        async with self._redis.pipeline(transaction=True) as pipe:
            for iri in attrs:  # UNLINK by name, as in delete_attribute
                pipe.execute_command(
                    "UNLINK", keys.instances(entity_id, iri), keys.archived_days(entity_id, iri)
                )
            for type_iri in (state or {}).get("type") or []:
                pipe.zrem(keys.type_index(type_iri), entity_id)
            pipe.execute_command("UNLINK", keys.entity(entity_id), keys.attributes(entity_id))
            pipe.zrem(keys.ids, entity_id)
            await pipe.execute()
        return attrs

    # Archive support --------------------------------------------------------------------------------

    async def entity_ids(self, tenant: str) -> list[str]:
        return [
            as_text(m) for m in cast(list[bytes], await self._redis.zrange(HistoryKeys(tenant).ids, 0, -1))
        ]

    async def older_than(
        self, tenant: str, entity_id: str, iri: str, cutoff: float
    ) -> list[tuple[bytes, float]]:
        """Raw (member, score) pairs scored before `cutoff`."""
        key = HistoryKeys(tenant).instances(entity_id, iri)
        rows = await self._redis.zrangebyscore(key, "-inf", f"({cutoff!r}", withscores=True)
        return [(bytes(m), float(s)) for m, s in cast(list[tuple[bytes, float]], rows)]

    async def mark_archived(
        self, tenant: str, entity_id: str, iri: str, day: str, members: Sequence[bytes]
    ) -> None:
        """After the S3 write: index the day, then drop exactly the archived members (never newer ones)."""
        keys = HistoryKeys(tenant)
        async with self._redis.pipeline(transaction=True) as pipe:
            pipe.sadd(keys.archived_days(entity_id, iri), day)
            if members:
                pipe.zrem(keys.instances(entity_id, iri), *members)
            await pipe.execute()

    async def unmark_archived(self, tenant: str, entity_id: str, iri: str, day: str) -> None:
        await self._redis.srem(HistoryKeys(tenant).archived_days(entity_id, iri), day)
