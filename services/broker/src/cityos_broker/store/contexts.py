"""Hosted @contexts (/ngsi-ld/v1/jsonldContexts): stored documents the ContextResolver can read.

Contexts are not tenant data in NGSI-LD (their URLs carry no tenant), so they live in a global namespace
(`cityos:{ctx}:d:<id>`, listed in `cityos:{ctx}:ids`: one cluster slot); every tenant's requests may use
any hosted context.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from typing import Any
from urllib.parse import unquote

import orjson
from cityos_runtime.redis_connect import RedisClient

from cityos_broker.store.keys import CONTEXT_INDEX, CONTEXT_PREFIX, as_text

_PATH_MARK = "/jsonldContexts/"


@dataclass(frozen=True, slots=True)
class HostedContext:
    """A stored context document and when it was added."""

    context_id: str
    document: dict[str, Any]
    created_at: str


def context_id_of(reference: str) -> str:
    """The local id of a hosted context, given its id or any URL ending in /jsonldContexts/<id>."""
    if _PATH_MARK in reference:
        return unquote(reference.rsplit(_PATH_MARK, 1)[1].split("?", 1)[0])
    return reference


class HostedContextStore:
    """Implements `ngsild.contexts.HostedContexts` over Redis."""

    def __init__(self, redis: RedisClient) -> None:
        self._redis = redis

    async def add(self, document: dict[str, Any], created_at: str) -> str:
        """Store a context document; returns its new id."""
        context_id = f"urn:ngsi-ld:Context:{uuid.uuid4()}"
        async with self._redis.pipeline(transaction=True) as pipe:
            pipe.hset(CONTEXT_PREFIX + context_id, mapping={"d": orjson.dumps(document), "at": created_at})
            pipe.sadd(CONTEXT_INDEX, context_id)
            await pipe.execute()
        return context_id

    async def get(self, context_id: str) -> dict[str, Any] | None:
        """The stored document, or None when unknown (the HostedContexts protocol)."""
        raw = await self._redis.hget(CONTEXT_PREFIX + context_id_of(context_id), "d")
        if raw is None:
            return None
        document = orjson.loads(raw)
        return document if isinstance(document, dict) else None

    async def describe(self, context_id: str) -> HostedContext | None:
        """The stored document with its metadata, or None."""
        local = context_id_of(context_id)
        raw, at = await self._redis.hmget(CONTEXT_PREFIX + local, ["d", "at"])
        if raw is None:
            return None
        return HostedContext(local, orjson.loads(raw), as_text(at or b""))

    async def list(self) -> list[HostedContext]:
        """Every hosted context, sorted by id."""
        members = sorted(as_text(m) for m in await self._redis.smembers(CONTEXT_INDEX))
        if not members:
            return []
        async with self._redis.pipeline(transaction=False) as pipe:
            for context_id in members:
                pipe.hmget(CONTEXT_PREFIX + context_id, ["d", "at"])
            rows = await pipe.execute()
        return [
            HostedContext(cid, orjson.loads(raw), as_text(at))
            for cid, (raw, at) in zip(members, rows, strict=True)
            if raw is not None
        ]

    async def delete(self, context_id: str) -> bool:
        """Remove a hosted context; False when it did not exist."""
        local = context_id_of(context_id)
        async with self._redis.pipeline(transaction=True) as pipe:
            pipe.delete(CONTEXT_PREFIX + local)
            pipe.srem(CONTEXT_INDEX, local)
            deleted, _ = await pipe.execute()
        return bool(deleted)
