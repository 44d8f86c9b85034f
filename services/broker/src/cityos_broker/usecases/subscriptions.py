"""Subscription use cases (ETSI GS CIM 009 5.8): create, retrieve, query, update and delete.

Each call carries its `Caller`: the client recorded as the owner of a subscription it creates (see
`subscriptions/policy.py`), and whether it may use only its own subscriptions (a client limited by entity
policies). Others' subscriptions are then ResourceNotFound, as if they did not exist.
"""

from __future__ import annotations

import asyncio
import random
from dataclasses import dataclass

from cityos.broker.v1 import broker_pb2 as pb
from cityos_runtime.problems import ProblemError
from cityos_runtime.ssrf import UnsafeUrlError, check_outbound_url

from cityos_broker.ngsild.entity import validate_entity_id
from cityos_broker.store import utc_now
from cityos_broker.subscriptions.model import SCHEMES, Stored, merge_subscription, parse_subscription
from cityos_broker.subscriptions.policy import OWNER
from cityos_broker.subscriptions.render import render_subscription
from cityos_broker.subscriptions.store import Found, SubscriptionStore, not_found
from cityos_broker.usecases.support import Support, parse_object

_UPDATE_ROUNDS = 16


@dataclass(frozen=True, slots=True)
class Caller:
    """Who calls: `client_id` None records no owner (platform admins, open mode, internal callers)."""

    client_id: str | None = None
    own_only: bool = False

    def may_use(self, sub: Stored) -> bool:
        """Whether the caller may see and change this subscription."""
        return not self.own_only or sub.get(OWNER) == self.client_id


ANYONE = Caller()


class SubscriptionUseCases:
    """One method per subscription RPC."""

    def __init__(self, support: Support, subscriptions: SubscriptionStore) -> None:
        self._s = support
        self._subs = subscriptions

    async def _check_endpoint(self, sub: Stored) -> None:
        """Refuse endpoints the SSRF guard refuses (loopback / private only where configuration allows)."""
        uri = sub["notification"]["endpoint"]["uri"]
        try:
            await check_outbound_url(
                uri, allow_private=self._s.settings.allow_private_urls, allowed_schemes=SCHEMES
            )
        except UnsafeUrlError as error:
            raise ProblemError("BadRequestData", f"notification endpoint refused: {error}") from None

    async def _found(self, tenant: str, sub_id: str, caller: Caller) -> Found:
        """The subscription if it exists and the caller may use it; else ResourceNotFound."""
        found = await self._subs.get(tenant, sub_id)
        if found is None or not caller.may_use(found.sub):
            raise not_found(sub_id)
        return found

    async def create(
        self, tenant_raw: str, request: pb.ResourceRequest, caller: Caller = ANYONE
    ) -> pb.ResourceResponse:
        doc = parse_object(request.body, "subscription")
        terms = await self._s.request_terms(request.ld, doc)
        sub = parse_subscription(doc, terms, utc_now())  # refuses an `owner` member: it is not the client's
        if caller.client_id is not None:
            sub[OWNER] = caller.client_id
        await self._check_endpoint(sub)
        tenant = await self._s.write_tenant(tenant_raw)
        await self._subs.create(tenant, sub)
        return pb.ResourceResponse(id=sub["id"])

    async def retrieve(
        self, tenant_raw: str, request: pb.ResourceRequest, caller: Caller = ANYONE
    ) -> pb.ResourceResponse:
        sub_id = validate_entity_id(request.id)
        tenant = await self._s.read_tenant(tenant_raw)
        rendering = await self._s.rendering(request.render)
        found = await self._found(tenant, sub_id, caller)
        body = render_subscription(found, rendering.terms, sys_attrs=rendering.options.sys_attrs)
        return pb.ResourceResponse(document=self._s.document(body, rendering))

    async def query(
        self, tenant_raw: str, request: pb.ResourceRequest, caller: Caller = ANYONE
    ) -> pb.ResourceResponse:
        settings = self._s.settings
        # ResourceRequest cannot tell an absent limit from limit=0: 0 means the default page size.
        limit = request.limit or settings.default_limit
        if limit > settings.max_limit:
            raise ProblemError(
                "TooManyResults", f"limit {limit} exceeds this broker's maximum of {settings.max_limit}"
            )
        if request.offset < 0 or limit < 0:
            raise ProblemError("BadRequestData", "limit and offset must not be negative")
        tenant = await self._s.read_tenant(tenant_raw)
        rendering = await self._s.rendering(request.render)
        if caller.own_only:
            page, total = await self._subs.page_owned(tenant, OWNER, caller.client_id, request.offset, limit)
        else:
            page, total = await self._subs.page(tenant, request.offset, limit)
        sys_attrs = rendering.options.sys_attrs
        body = [render_subscription(found, rendering.terms, sys_attrs=sys_attrs) for found in page]
        document = self._s.document(body, rendering, each_item=True)
        return pb.ResourceResponse(document=document, count=total if request.count else 0)

    async def update(
        self, tenant_raw: str, request: pb.ResourceRequest, caller: Caller = ANYONE
    ) -> pb.ResourceResponse:
        sub_id = validate_entity_id(request.id)
        fragment = parse_object(request.body, "subscription fragment")
        terms = await self._s.request_terms(request.ld, fragment)
        tenant = await self._s.read_tenant(tenant_raw)
        for round_number in range(_UPDATE_ROUNDS):
            if round_number:
                await asyncio.sleep(random.uniform(0, 0.005 * round_number))
            found = await self._found(tenant, sub_id, caller)
            merged = merge_subscription(found.sub, fragment, terms, utc_now())
            if merged["notification"]["endpoint"] != found.sub["notification"]["endpoint"]:
                await self._check_endpoint(merged)
            if await self._subs.replace(tenant, merged, found.version):
                return pb.ResourceResponse()
        raise ProblemError("Conflict", f"subscription {sub_id} kept changing concurrently; retry the request")

    async def delete(
        self, tenant_raw: str, request: pb.ResourceRequest, caller: Caller = ANYONE
    ) -> pb.ResourceResponse:
        sub_id = validate_entity_id(request.id)
        tenant = await self._s.read_tenant(tenant_raw)
        if caller.own_only:
            await self._found(tenant, sub_id, caller)  # an owner never changes, so no race to guard
        await self._subs.delete(tenant, sub_id)
        return pb.ResourceResponse()
