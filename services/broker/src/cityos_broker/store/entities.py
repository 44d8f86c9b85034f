"""Entity reads and atomic writes: one HMGET per read, one script call per write, pipelines for batches."""

from __future__ import annotations

import asyncio
import random
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any, NamedTuple

import orjson
from cityos_runtime.problems import ProblemError
from cityos_runtime.redis_connect import RedisClient
from opentelemetry import trace
from redis.exceptions import NoScriptError, RedisError

from cityos_broker.store.indexing import index_diff, index_entries
from cityos_broker.store.keys import TenantKeys
from cityos_broker.store.querying import Filter, QueryExecutor
from cityos_broker.store.scripts import WRITE_ENTITY, LuaScript

Entity = dict[str, Any]
# Given the current stored form (None when absent), the new form (None deletes); raise ProblemError to refuse.
Mutation = Callable[[Entity | None], Entity | None]
MAX_ROUNDS = 64
# Conflicting writers back off a random, growing pause so a hot entity converges instead of livelocking.
_BACKOFF_S = 0.0005
_FIRST_INDEX_SLOT = 4  # KEYS 1-3 of the write script are the entity, the change stream and the sequence


def utc_now() -> str:
    """The current time as the broker's ISO 8601 UTC timestamp (microseconds, `Z`)."""
    return datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%S.%fZ")


def _traceparent() -> str:
    """The current span's W3C traceparent for the change event ("" unless the span is recorded).

    Notifications link their span to it. Formatted by hand: a propagator and a carrier dict per write
    would cost more than the rest of this (hot) path's bookkeeping.
    """
    span = trace.get_current_span()
    if not span.is_recording():
        return ""
    ctx = span.get_span_context()
    return f"00-{ctx.trace_id:032x}-{ctx.span_id:016x}-{int(ctx.trace_flags):02x}"


class Stored(NamedTuple):
    """A stored entity and the version it was read at."""

    entity: Entity
    version: str


@dataclass(frozen=True, slots=True)
class Applied:
    """An acknowledged write: the entity before and after (None: absent)."""

    before: Entity | None
    after: Entity | None

    @property
    def created(self) -> bool:
        return self.before is None and self.after is not None


def _decode(raw: list[Any]) -> Stored | None:
    data, version = raw
    if data is None:
        return None
    return Stored(orjson.loads(data), version.decode() if isinstance(version, bytes) else str(version))


def _not_found(entity_id: str) -> ProblemError:
    return ProblemError("ResourceNotFound", f"entity {entity_id} does not exist")


def _op_name(before: Entity | None, after: Entity | None) -> str:
    if before is None:
        return "create"
    return "delete" if after is None else "update"


class EntityStore:
    """Entities of every tenant in Redis, each written atomically with its indexes and change event."""

    def __init__(self, redis: RedisClient) -> None:
        self._redis = redis
        self._write = LuaScript(WRITE_ENTITY)
        self._queries = QueryExecutor(redis)

    async def load_scripts(self) -> None:
        """Load the Lua scripts (at start-up; later NOSCRIPT replies reload them on demand)."""
        await self._write.load(self._redis)

    async def get(self, tenant: str, entity_id: str) -> Stored | None:
        """The stored entity and its version, or None."""
        raw = await self._redis.hmget(TenantKeys(tenant).entity(entity_id), ["d", "v"])
        return _decode(raw)

    async def get_many(self, tenant: str, entity_ids: Sequence[str]) -> list[Stored | None]:
        """Stored entities in the order of `entity_ids` (None where absent), in one pipeline."""
        if not entity_ids:
            return []
        keys = TenantKeys(tenant)
        async with self._redis.pipeline(transaction=False) as pipe:
            for entity_id in entity_ids:
                pipe.hmget(keys.entity(entity_id), ["d", "v"])
            rows = await pipe.execute()
        return [_decode(row) for row in rows]

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
        """A page of matching entities in lexical id order and the exact total when `count` is set."""
        return await self._queries.query(tenant, flt, limit=limit, offset=offset, count=count, exact=exact)

    async def create(self, tenant: str, entity: Entity) -> None:
        """Store a new entity; ProblemError AlreadyExists when the id is taken (checked in the script)."""
        [outcome] = await self.create_many(tenant, [entity])
        if outcome is not None:
            raise outcome

    async def create_many(self, tenant: str, entities: Sequence[Entity]) -> list[ProblemError | None]:
        """Create entities in one pipeline; per entity None (created) or the ProblemError."""
        keys = TenantKeys(tenant)
        calls = [self._write_call(keys, str(e["id"]), None, e, utc_now()) for e in entities]
        results = await self._run_many(calls)
        return [
            None if isinstance(r, str) else r if isinstance(r, ProblemError) else self._exists(str(e["id"]))
            for e, r in zip(entities, results, strict=True)
        ]

    async def apply(self, tenant: str, entity_id: str, mutate: Mutation) -> Applied:
        """Read, mutate and write one entity, retrying when another writer got there first."""
        [outcome] = await self.apply_many(tenant, [(entity_id, mutate)])
        if isinstance(outcome, ProblemError):
            raise outcome
        return outcome

    async def apply_many(
        self, tenant: str, items: Sequence[tuple[str, Mutation]]
    ) -> list[Applied | ProblemError]:
        """Apply mutations to many entities: one read pipeline and one script pipeline per round.

        Entities whose version changed between the read and the write (another writer, or the same id
        earlier in `items`) go to the next round, so every item is applied in order or reports why not.
        """
        keys = TenantKeys(tenant)
        outcomes: list[Applied | ProblemError | None] = [None] * len(items)
        pending = list(range(len(items)))
        for round_number in range(MAX_ROUNDS):
            if not pending:
                break
            if round_number:
                await asyncio.sleep(random.uniform(0, _BACKOFF_S * min(round_number, 20)))
            if len(pending) == 1:  # the common single-entity write: a plain HMGET, no pipeline object
                current = [await self.get(tenant, items[pending[0]][0])]
            else:
                current = await self.get_many(tenant, [items[i][0] for i in pending])
            now = utc_now()
            planned: list[tuple[int, Entity | None, Entity | None]] = []
            calls: list[tuple[list[str], list[Any]]] = []
            for index, stored in zip(pending, current, strict=True):
                entity_id, mutate = items[index]
                before = stored.entity if stored else None
                try:
                    after = mutate(before)
                except ProblemError as problem:
                    outcomes[index] = problem
                    continue
                if before is None and after is None:
                    outcomes[index] = _not_found(entity_id)
                    continue
                planned.append((index, before, after))
                calls.append(self._write_call(keys, entity_id, stored, after, now))
            results = await self._run_many(calls)
            pending = []
            for (index, before, after), result in zip(planned, results, strict=True):
                if result is None:
                    pending.append(index)
                elif isinstance(result, ProblemError):
                    outcomes[index] = result
                else:
                    outcomes[index] = Applied(before, after)
        for index in pending:
            outcomes[index] = ProblemError(
                "Conflict", f"entity {items[index][0]} kept changing concurrently; retry the request"
            )
        return [
            o if o is not None else ProblemError("InternalError", "write not attempted") for o in outcomes
        ]

    def _write_call(
        self, keys: TenantKeys, entity_id: str, before: Stored | None, after: Entity | None, now: str
    ) -> tuple[list[str], list[Any]]:
        """KEYS and ARGV of one write-script call turning `before` into `after`."""
        old = index_entries(keys, before.entity) if before else None
        new = index_entries(keys, after) if after is not None else None
        diff = index_diff(old, new, first_slot=_FIRST_INDEX_SLOT)
        source = after if after is not None else (before.entity if before else {})
        call_keys = [keys.entity(entity_id), keys.changes, keys.sequence, *diff.keys]
        args: list[Any] = [
            before.version if before else "0",
            orjson.dumps(after) if after is not None else b"",
            _op_name(before.entity if before else None, after),
            entity_id,
            orjson.dumps(source.get("type") or []),
            now,
            orjson.dumps(diff.args),
            _traceparent(),
        ]
        return call_keys, args

    async def _run_many(
        self, calls: Sequence[tuple[list[str], list[Any]]]
    ) -> list[str | ProblemError | None]:
        """Run write-script calls in one pipeline: new version, None on a version conflict, or a problem."""
        if not calls:
            return []
        if len(calls) == 1:
            call_keys, args = calls[0]
            try:
                return [_script_result(await self._write.run(self._redis, call_keys, args))]
            except RedisError as error:
                return [_redis_problem(error)]
        async with self._redis.pipeline(transaction=False) as pipe:
            for call_keys, args in calls:
                self._write.queue(pipe, call_keys, args)
            replies = await pipe.execute(raise_on_error=False)
        results: list[str | ProblemError | None] = []
        for (call_keys, args), reply in zip(calls, replies, strict=True):
            if isinstance(reply, NoScriptError):
                # The server lost its script cache (restart, SCRIPT FLUSH): nothing ran, so rerun this one.
                try:
                    reply = await self._write.run(self._redis, call_keys, args)
                except RedisError as error:
                    reply = error
            results.append(_redis_problem(reply) if isinstance(reply, Exception) else _script_result(reply))
        return results

    @staticmethod
    def _exists(entity_id: str) -> ProblemError:
        return ProblemError("AlreadyExists", f"entity {entity_id} already exists")


def _script_result(reply: object) -> str | None:
    """The new version of an acknowledged write, None on a version conflict."""
    if not isinstance(reply, list) or len(reply) != 2:
        raise RuntimeError(f"unexpected write script reply {reply!r}")
    ok, version = reply
    if int(ok) != 1:
        return None
    return version.decode() if isinstance(version, bytes) else str(version)


def _redis_problem(error: BaseException) -> ProblemError:
    return ProblemError("InternalError", f"the entity store rejected the write ({type(error).__name__})")
