"""PolicyCache: one fetch per tenant per TTL, stale entries while identity is unreachable, 503 without one."""

from __future__ import annotations

from types import SimpleNamespace
from typing import Any

import grpc
import pytest
from cityos_runtime.policy_cache import PolicyCache
from cityos_runtime.problems import ProblemError


def _error(code: grpc.StatusCode) -> grpc.aio.AioRpcError:
    return grpc.aio.AioRpcError(code, grpc.aio.Metadata(), grpc.aio.Metadata(), "x")


class Identity:
    def __init__(self) -> None:
        self.calls = 0
        self.state = "active"
        self.failure: grpc.aio.AioRpcError | None = None

    async def fetch(self, tenant: str) -> Any:
        self.calls += 1
        if self.failure is not None:
            raise self.failure
        return SimpleNamespace(tenant_state=self.state, policies=[], public_types=[], grants=[])


async def test_one_fetch_per_ttl_then_stale_while_unreachable() -> None:
    now = [0.0]
    identity = Identity()
    cache = PolicyCache(identity.fetch, ttl=5, clock=lambda: now[0])
    assert (await cache.get("a")).state == "active"
    identity.state = "suspended"
    assert (await cache.get("a")).state == "active" and identity.calls == 1
    now[0] = 6
    assert (await cache.get("a")).state == "suspended" and identity.calls == 2
    identity.failure = _error(grpc.StatusCode.UNAVAILABLE)
    now[0] = 12
    assert (await cache.get("a")).state == "suspended"  # stale, served while identity is down
    assert identity.calls == 3
    with pytest.raises(ProblemError) as raised:
        await cache.get("b")  # nothing to fall back on
    assert raised.value.status == 503 and identity.calls == 4
    now[0] = 14
    assert (await cache.get("a")).state == "suspended" and identity.calls == 4  # retried once per TTL
    identity.failure = None
    identity.state = "active"
    now[0] = 18
    assert (await cache.get("a")).state == "active" and identity.calls == 5


async def test_an_unknown_tenant_is_remembered_as_not_existing() -> None:
    identity = Identity()
    identity.failure = _error(grpc.StatusCode.NOT_FOUND)
    cache = PolicyCache(identity.fetch)
    assert not (await cache.get("ghost")).exists
    await cache.get("ghost")
    assert identity.calls == 1
