"""Type and attribute discovery from the index counters (never by scanning entities)."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass

from cityos_runtime.redis_connect import RedisClient

from cityos_broker.store.keys import TenantKeys, as_text


def _counts(raw: Mapping[bytes | str, bytes | str]) -> dict[str, int]:
    return {as_text(k): int(v) for k, v in raw.items() if int(v) > 0}


@dataclass(frozen=True, slots=True)
class TypeInfo:
    """One entity type: how many entities have it and which attributes they carry."""

    iri: str
    entity_count: int
    attributes: tuple[str, ...]


@dataclass(frozen=True, slots=True)
class AttributeInfo:
    """One attribute: instance count, NGSI-LD kinds (Property, Relationship, ...) and the types using it."""

    iri: str
    instance_count: int
    kinds: tuple[str, ...]
    types: tuple[str, ...]


class Discovery:
    """Reads the counters the write script maintains: `types`, `typeattrs:*`, `typeattrkinds:*`, `attrs`,
    `attrkinds:*`."""

    def __init__(self, redis: RedisClient) -> None:
        self._redis = redis

    async def type_counts(self, tenant: str) -> dict[str, int]:
        """Type IRI -> number of entities, for every type in use."""
        return _counts(await self._redis.hgetall(TenantKeys(tenant).types))

    async def types(self, tenant: str, only: Sequence[str] | None = None) -> list[TypeInfo]:
        """Details of every type in use (or of `only`, skipping unused ones), sorted by IRI."""
        keys = TenantKeys(tenant)
        counts = await self.type_counts(tenant)
        iris = sorted(counts) if only is None else [t for t in only if t in counts]
        if not iris:
            return []
        async with self._redis.pipeline(transaction=False) as pipe:
            for iri in iris:
                pipe.hkeys(keys.type_attrs(iri))
            rows = await pipe.execute()
        return [
            TypeInfo(iri, counts[iri], tuple(sorted(as_text(a) for a in row)))
            for iri, row in zip(iris, rows, strict=True)
        ]

    async def type_attribute_kinds(self, tenant: str, type_iri: str) -> dict[str, tuple[str, ...]]:
        """Attribute IRI -> the NGSI-LD kinds its instances have in entities of one type."""
        fields = await self._redis.hkeys(TenantKeys(tenant).type_attr_kinds(type_iri))
        kinds: dict[str, set[str]] = {}
        for raw in fields:
            kind, _, attr_iri = as_text(raw).partition(" ")
            kinds.setdefault(attr_iri, set()).add(kind)
        return {attr: tuple(sorted(found)) for attr, found in kinds.items()}

    async def attribute_counts(self, tenant: str) -> dict[str, int]:
        """Attribute IRI -> number of attribute instances, for every attribute in use."""
        return _counts(await self._redis.hgetall(TenantKeys(tenant).attrs))

    async def attributes(self, tenant: str, only: Sequence[str] | None = None) -> list[AttributeInfo]:
        """Details of every attribute in use (or of `only`, skipping unused ones), sorted by IRI."""
        keys = TenantKeys(tenant)
        async with self._redis.pipeline(transaction=False) as pipe:
            pipe.hgetall(keys.attrs)
            pipe.hgetall(keys.types)
            counts_raw, types_raw = await pipe.execute()
        counts = _counts(counts_raw)
        type_iris = sorted(_counts(types_raw))
        iris = sorted(counts) if only is None else [a for a in only if a in counts]
        if not iris:
            return []
        async with self._redis.pipeline(transaction=False) as pipe:
            for iri in iris:
                pipe.hkeys(keys.attr_kinds(iri))
            for type_iri in type_iris:
                pipe.hmget(keys.type_attrs(type_iri), iris)
            rows = await pipe.execute()
        kinds_rows, type_rows = rows[: len(iris)], rows[len(iris) :]
        infos = []
        for position, iri in enumerate(iris):
            using = tuple(t for t, row in zip(type_iris, type_rows, strict=True) if row[position] is not None)
            kinds = tuple(sorted(as_text(k) for k in kinds_rows[position]))
            infos.append(AttributeInfo(iri, counts[iri], kinds, using))
        return infos
