"""The bundle of Redis stores every use case shares."""

from __future__ import annotations

from dataclasses import dataclass

from cityos_runtime.redis_connect import RedisClient

from cityos_identity.store.consent import ConsentStore
from cityos_identity.store.directory import Directory
from cityos_identity.store.policies import Policies
from cityos_identity.store.principals import Principals
from cityos_identity.store.signing import SigningKeyStore
from cityos_identity.store.tokens import TokenStore


@dataclass(frozen=True, slots=True)
class Stores:
    directory: Directory
    principals: Principals
    policies: Policies
    consent: ConsentStore
    tokens: TokenStore
    signing: SigningKeyStore

    @classmethod
    def over(cls, redis: RedisClient) -> Stores:
        return cls(
            Directory(redis),
            Principals(redis),
            Policies(redis),
            ConsentStore(redis),
            TokenStore(redis),
            SigningKeyStore(redis),
        )
