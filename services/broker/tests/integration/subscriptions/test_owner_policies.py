"""Notifications carry only what the subscription's owner may read now: a real broker asks a (fake but real
gRPC) identity service for the tenant's policies, cached for BROKER_POLICY_TTL."""

from __future__ import annotations

import asyncio
import socket
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from typing import Any

import grpc
import orjson
import pytest
from cityos.broker.v1 import broker_pb2 as pb
from cityos.identity.v1 import identity_pb2 as ipb
from cityos.identity.v1 import identity_pb2_grpc
from cityos_devtools.polling import poll_until
from cityos_runtime.metadata import CLIENT_ID, OWN_ONLY
from redis.asyncio import Redis

pytestmark = pytest.mark.integration

TTL = 0.3


@dataclass
class Identity(identity_pb2_grpc.IdentityServicer):
    """GetAccessPolicies from a dict (tenant -> AccessPolicies); counts the calls."""

    policies: dict[str, ipb.AccessPolicies] = field(default_factory=dict)
    calls: int = 0
    server: grpc.aio.Server | None = None

    async def GetAccessPolicies(self, request: Any, context: Any) -> ipb.AccessPolicies:
        self.calls += 1
        if request.tenant not in self.policies:
            await context.abort(grpc.StatusCode.NOT_FOUND, "no such tenant")
        return self.policies[request.tenant]

    def set(self, tenant: str, *rules: ipb.EntityPolicy, state: str = "active") -> None:
        self.policies[tenant] = ipb.AccessPolicies(tenant=tenant, tenant_state=state, policies=rules)


async def serve_identity(fake: Identity, address: str = "127.0.0.1:0") -> tuple[grpc.aio.Server, str]:
    server = grpc.aio.server()
    identity_pb2_grpc.add_IdentityServicer_to_server(fake, server)
    port = server.add_insecure_port(address)
    await server.start()
    return server, f"127.0.0.1:{port}"


@pytest.fixture
async def identity() -> AsyncIterator[tuple[str, Identity]]:
    fake = Identity()
    server, address = await serve_identity(fake)
    fake.server = server
    try:
        yield address, fake
    finally:
        await server.stop(0)


@pytest.fixture
async def broker(
    redis_env: dict[str, str], start_broker: Any, notify_env: dict[str, str], identity: tuple[str, Identity]
) -> AsyncIterator[tuple[str, Any]]:
    env = {**redis_env, **notify_env, "IDENTITY_ADDRESS": identity[0], "BROKER_POLICY_TTL": str(TTL)}
    async with start_broker(redis_env["REDIS_URL"], **env) as started:
        yield started


@dataclass
class _Tenant:
    """What `subscribe` and `write` need of the `client` fixture, for a broker started in the test."""

    stub: Any
    tenant: str

    async def batch(self, operation: int, items: list[Any]) -> Any:
        request = pb.BatchRequest(operation=operation, entities=orjson.dumps(items))
        return await self.stub.Batch(request, metadata=(("ngsild-tenant", self.tenant),))


def rule(client: str, *types: str, attributes: tuple[str, ...] = ()) -> ipb.EntityPolicy:
    return ipb.EntityPolicy(client_id=client, entity_types=types, read=True, attributes=attributes)


def as_client(client: Any, client_id: str | None, *, own_only: bool = False) -> tuple[tuple[str, str], ...]:
    metadata = [("ngsild-tenant", client.tenant)]
    if client_id is not None:
        metadata.append((CLIENT_ID, client_id))
    if own_only:
        metadata.append((OWN_ONLY, "1"))
    return tuple(metadata)


async def subscribe(client: Any, uri: str, owner: str | None, **members: Any) -> str:
    doc = {
        "type": "Subscription",
        "entities": [{"type": "Vehicle"}],
        "notification": {"endpoint": {"uri": uri}},
        **members,
    }
    request = pb.ResourceRequest(body=orjson.dumps(doc), ld=pb.LdRequest(content_type="application/json"))
    reply = await client.stub.CreateSubscription(request, metadata=as_client(client, owner))
    return str(reply.id)


def vehicle(speed: float) -> dict[str, Any]:
    return {
        "id": "urn:ngsi-ld:Vehicle:1",
        "type": "Vehicle",
        "speed": {"type": "Property", "value": speed},
        "plate": {"type": "Property", "value": "札幌 500"},
    }


async def write(client: Any, speed: float) -> None:
    await client.batch(pb.BATCH_OPERATION_UPSERT, [vehicle(speed)])


async def settled(redis: Redis, tenant: str) -> bool | None:
    """True once every change is matched and every queued notification delivered."""
    changes = await redis.xinfo_groups(f"{{t:{tenant}}}:changes")
    notify = await redis.xlen(f"{{t:{tenant}}}:notify")
    done = all(g["pending"] == 0 and g.get("lag") == 0 for g in changes if g["name"] == b"notifier")
    return (done and notify == 0) or None


def for_sub(receiver: Any, sub_id: str) -> list[dict[str, Any]]:
    return [r.body for r in receiver.requests if r.body["subscriptionId"] == sub_id]


async def test_a_policy_change_changes_what_the_next_notification_carries(
    client: Any, receiver: Any, identity: tuple[str, Identity], redis: Redis
) -> None:
    _, fake = identity
    fake.set(client.tenant, rule("app", "Vehicle", attributes=("speed",)))
    owned = await subscribe(client, receiver.url(), "app")
    marker = await subscribe(client, receiver.url(), None)  # no owner: the tenant's data, as before owners
    await write(client, 1)
    await poll_until(lambda: len(for_sub(receiver, owned)) == 1 or None, "the first notification", timeout=10)
    [first] = for_sub(receiver, owned)[0]["data"]
    assert "speed" in first and "plate" not in first
    [unfiltered] = (await poll_until(lambda: for_sub(receiver, marker) or None, "marker", timeout=10))[0][
        "data"
    ]
    assert "plate" in unfiltered

    fake.set(client.tenant, rule("app", "Vehicle"))  # every attribute now
    await asyncio.sleep(TTL + 0.1)  # the cached policies expire
    await write(client, 2)
    await poll_until(
        lambda: len(for_sub(receiver, owned)) == 2 or None, "the second notification", timeout=10
    )
    assert "plate" in for_sub(receiver, owned)[1]["data"][0]

    fake.set(client.tenant, rule("app", "Camera"))  # no Vehicle any more
    await asyncio.sleep(TTL + 0.1)
    await write(client, 3)
    await poll_until(lambda: len(for_sub(receiver, marker)) == 3 or None, "the marker's third", timeout=10)
    await poll_until(lambda: settled(redis, client.tenant), "every notification to be sent", timeout=10)
    assert len(for_sub(receiver, owned)) == 2, "a type the owner may no longer read is not notified"


async def test_policies_are_fetched_per_tenant_and_ttl_not_per_notification(
    client: Any, receiver: Any, identity: tuple[str, Identity], redis: Redis
) -> None:
    _, fake = identity
    fake.set(client.tenant, rule("app", "Vehicle"))
    owned = await subscribe(client, receiver.url(), "app")
    vehicles = [{**vehicle(n), "id": f"urn:ngsi-ld:Vehicle:{n}"} for n in range(30)]
    before = fake.calls
    await client.batch(pb.BATCH_OPERATION_UPSERT, vehicles)
    await poll_until(lambda: len(for_sub(receiver, owned)) == 30 or None, "30 notifications", timeout=15)
    assert fake.calls - before < 30


async def test_a_suspended_tenant_notifies_nothing(
    client: Any, receiver: Any, identity: tuple[str, Identity], redis: Redis
) -> None:
    _, fake = identity
    fake.set(client.tenant, state="suspended")
    await subscribe(client, receiver.url(), None)
    await write(client, 1)
    await poll_until(lambda: settled(redis, client.tenant), "the change to be matched", timeout=10)
    assert receiver.requests == []


async def test_time_interval_notifications_carry_only_what_the_owner_may_read(
    client: Any, receiver: Any, identity: tuple[str, Identity]
) -> None:
    _, fake = identity
    fake.set(client.tenant, rule("*", "Vehicle", attributes=("plate",)))
    await write(client, 1)
    owned = await subscribe(client, receiver.url(), "app", timeInterval=1)
    [notified] = (await poll_until(lambda: for_sub(receiver, owned) or None, "a periodic one", timeout=10))[
        0
    ]["data"]
    assert "plate" in notified and "speed" not in notified


async def test_the_owner_is_recorded_never_rendered_and_cannot_be_given_in_the_body(
    client: Any, receiver: Any, redis: Redis
) -> None:
    sub_id = await subscribe(client, receiver.url(), "app")
    stored = orjson.loads(await redis.hget(f"{{t:{client.tenant}}}:sub:{sub_id}", "d"))
    assert stored["owner"] == "app"
    reply = await client.call("RetrieveSubscription", pb.ResourceRequest(id=sub_id))
    assert "owner" not in orjson.loads(reply.document.body)
    forged = {
        "type": "Subscription",
        "entities": [{"type": "Vehicle"}],
        "notification": {"endpoint": {"uri": receiver.url()}},
        "owner": "admin",
    }
    request = pb.ResourceRequest(body=orjson.dumps(forged), ld=pb.LdRequest(content_type="application/json"))
    problem = await client.problem("CreateSubscription", request)
    assert problem.status == 400 and "owner" in problem.detail
    patch = pb.ResourceRequest(id=sub_id, body=b'{"owner": null}', ld=pb.LdRequest())
    assert (await client.problem("UpdateSubscription", patch)).status == 400


async def test_a_limited_client_uses_only_its_own_subscriptions(client: Any, receiver: Any) -> None:
    mine = await subscribe(client, receiver.url(), "app")
    other = await subscribe(client, receiver.url(), "other")
    legacy = await subscribe(client, receiver.url(), None)
    own = as_client(client, "app", own_only=True)
    listed = await client.stub.QuerySubscriptions(pb.ResourceRequest(count=True), metadata=own)
    assert [s["id"] for s in orjson.loads(listed.document.body)] == [mine] and listed.count == 1
    for sub_id in (other, legacy):
        for rpc, body in (("RetrieveSubscription", b""), ("UpdateSubscription", b'{"isActive": false}')):
            request = pb.ResourceRequest(id=sub_id, body=body, ld=pb.LdRequest())
            with pytest.raises(grpc.aio.AioRpcError) as refused:
                await getattr(client.stub, rpc)(request, metadata=own)
            assert refused.value.code() == grpc.StatusCode.NOT_FOUND, rpc
        with pytest.raises(grpc.aio.AioRpcError):
            await client.stub.DeleteSubscription(pb.ResourceRequest(id=sub_id), metadata=own)
    await client.stub.UpdateSubscription(
        pb.ResourceRequest(id=mine, body=b'{"isActive": false}', ld=pb.LdRequest()), metadata=own
    )
    await client.stub.DeleteSubscription(pb.ResourceRequest(id=mine), metadata=own)
    everyone = await client.call("QuerySubscriptions", pb.ResourceRequest(count=True))
    assert everyone.count == 2  # an unrestricted caller still sees the tenant's subscriptions


async def test_stale_policies_serve_while_identity_is_down(
    client: Any, receiver: Any, identity: tuple[str, Identity]
) -> None:
    _, fake = identity
    fake.set(client.tenant, rule("app", "Vehicle", attributes=("speed",)))
    owned = await subscribe(client, receiver.url(), "app")
    await write(client, 1)
    await poll_until(lambda: len(for_sub(receiver, owned)) == 1 or None, "the first notification", timeout=10)
    assert fake.server is not None
    await fake.server.stop(0)  # identity goes away
    await asyncio.sleep(TTL + 0.1)  # the cached entry is stale now
    await write(client, 2)
    await poll_until(lambda: len(for_sub(receiver, owned)) == 2 or None, "a notification", timeout=10)
    [data] = for_sub(receiver, owned)[1]["data"]
    assert data["speed"]["value"] == 2 and "plate" not in data  # still filtered, by the stale policies


async def test_changes_wait_until_identity_first_answers(
    redis_url: str, start_broker: Any, notify_env: dict[str, str], unique_tenant: str, receiver: Any
) -> None:
    """No policies known and identity unreachable: the events stay pending, then are notified, not lost."""
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    env = {**notify_env, "IDENTITY_ADDRESS": f"127.0.0.1:{port}", "BROKER_POLICY_TTL": str(TTL)}
    async with start_broker(redis_url, **env) as (_, stub):
        client = _Tenant(stub, unique_tenant)
        owned = await subscribe(client, receiver.url(), "app")
        await write(client, 1)
        await asyncio.sleep(1.5)  # longer than a claim: the event was tried and left pending
        assert receiver.requests == []
        fake = Identity()
        fake.set(unique_tenant, rule("app", "Vehicle", attributes=("speed",)))
        server, _ = await serve_identity(fake, f"127.0.0.1:{port}")
        try:
            await poll_until(lambda: for_sub(receiver, owned) or None, "the waiting notification", timeout=30)
        finally:
            await server.stop(0)
    [data] = for_sub(receiver, owned)[0]["data"]
    assert "speed" in data and "plate" not in data
