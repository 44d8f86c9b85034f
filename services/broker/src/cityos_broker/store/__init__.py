"""Redis persistence of the broker (the only package that imports redis)."""

from __future__ import annotations

from dataclasses import dataclass

from cityos_runtime.redis_connect import RedisClient

from cityos_broker.store.contexts import HostedContext, HostedContextStore
from cityos_broker.store.discovery import AttributeInfo, Discovery, TypeInfo
from cityos_broker.store.entities import Applied, EntityStore, Mutation, Stored, utc_now
from cityos_broker.store.keys import TenantKeys, validate_tenant
from cityos_broker.store.tenants import TenantRegistry


@dataclass(frozen=True, slots=True)
class Store:
    """Every store component over one Redis client."""

    entities: EntityStore
    discovery: Discovery
    contexts: HostedContextStore
    tenants: TenantRegistry

    @classmethod
    def over(cls, redis: RedisClient) -> Store:
        """Build the components sharing `redis`."""
        return cls(
            EntityStore(redis),
            Discovery(redis),
            HostedContextStore(redis),
            TenantRegistry(redis),
        )


__all__ = [
    "Applied",
    "AttributeInfo",
    "Discovery",
    "EntityStore",
    "HostedContext",
    "HostedContextStore",
    "Mutation",
    "Store",
    "Stored",
    "TenantKeys",
    "TenantRegistry",
    "TypeInfo",
    "utc_now",
    "validate_tenant",
]
