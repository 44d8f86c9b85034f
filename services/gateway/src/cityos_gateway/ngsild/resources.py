"""Subscription, temporal and context source registration routes (ResourceRequest RPCs)."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from functools import partial
from typing import TYPE_CHECKING

from cityos.broker.v1 import broker_pb2 as pb
from cityos_runtime.metadata import CLIENT_ID, OWN_ONLY

from cityos_gateway import params
from cityos_gateway.http import Request, Response
from cityos_gateway.negotiation import PLAIN_ACCEPT
from cityos_gateway.ngsild.common import (
    accepted,
    body_ld,
    created,
    document,
    header_ld,
    no_content,
    with_count,
)
from cityos_gateway.router import Handler
from cityos_gateway.security.access import Access

if TYPE_CHECKING:
    from cityos.broker.v1.broker_pb2_grpc import BrokerAsyncStub

Call = Callable[..., Awaitable[pb.ResourceResponse]]
_CONTENT_RANGE = b"content-range"


async def _as_subscriber(handler: Handler, request: Request) -> Response:
    """Subscription calls tell the broker who the caller is: the owner it records and whether the caller
    may use only its own subscriptions (see security/access.py)."""
    access = request.state.get("access")
    if isinstance(access, Access) and access.owner is not None:
        extra = [(CLIENT_ID, access.owner)]
        if access.own_only:
            extra.append((OWN_ONLY, "1"))
        request.metadata = (*request.metadata, *extra)
    return await handler(request)


class ResourceRoutes:
    """Maps /subscriptions, /csourceRegistrations and /temporal onto their Broker RPCs."""

    def __init__(self, stub: BrokerAsyncStub, timeout: float) -> None:
        self._stub = stub
        self._timeout = timeout

    def routes(self) -> dict[str, dict[str, Handler]]:
        """Path templates (below /ngsi-ld/v1) and their handlers by method."""
        s = self._stub
        table: dict[str, dict[str, Handler]] = {}
        for path, create, query, retrieve, update, delete in (
            ("/subscriptions", s.CreateSubscription, s.QuerySubscriptions, s.RetrieveSubscription,
             s.UpdateSubscription, s.DeleteSubscription),
            ("/csourceRegistrations", s.CreateRegistration, s.QueryRegistrations, s.RetrieveRegistration,
             s.UpdateRegistration, s.DeleteRegistration),
        ):  # fmt: skip
            table[path] = {"POST": partial(self.create, path, create), "GET": partial(self.read, query)}
            table[path + "/{id}"] = {
                "GET": partial(self.read, retrieve),
                "PATCH": partial(self.write, update),
                "DELETE": partial(self.write, delete),
            }
        for handlers in (table["/subscriptions"], table["/subscriptions/{id}"]):
            for method, handler in handlers.items():
                handlers[method] = partial(_as_subscriber, handler)
        temporal = "/temporal/entities"
        table[temporal] = {
            "POST": partial(self.upsert, temporal, s.CreateTemporalEntity),
            "GET": partial(self.read, s.QueryTemporalEntities),
        }
        table["/temporal/entityOperations/query"] = {"POST": partial(self.read, s.QueryTemporalEntities)}
        table[temporal + "/{id}"] = {
            "GET": partial(self.read, s.RetrieveTemporalEntity),
            "DELETE": partial(self.write, s.DeleteTemporalEntity),
        }
        table[temporal + "/{id}/attrs"] = {"POST": partial(self.write, s.AppendTemporalAttributes)}
        table[temporal + "/{id}/attrs/{attrId}"] = {"DELETE": partial(self.write, s.DeleteTemporalAttribute)}
        table[temporal + "/{id}/attrs/{attrId}/{instanceId}"] = {
            "DELETE": partial(self.write, s.DeleteTemporalAttribute)
        }
        return table

    def _message(
        self, request: Request, media: pb.MediaType.ValueType, with_body: bool
    ) -> pb.ResourceRequest:
        """The ResourceRequest: path ids, body, render, paging, typed query and the other parameters."""
        query = request.query
        ld = body_ld(request) if with_body else header_ld(request)
        path = request.path_params
        return pb.ResourceRequest(
            id=path[0] if path else "",
            attribute=path[1] if len(path) > 1 else "",
            instance_id=path[2] if len(path) > 2 else "",
            ld=ld,
            body=request.body if with_body else b"",
            render=params.render(
                query, media, ld.link_context, params.options(query, params.TEMPORAL_OPTIONS)
            ),
            limit=params.non_negative(query, "limit") or 0,
            offset=params.non_negative(query, "offset") or 0,
            count=params.flag(query, "count"),
            params=params.extra_params(query),
            query=params.entity_query(query),
        )

    async def create(self, path: str, call: Call, request: Request) -> Response:
        """POST a new resource: 201 with its Location."""
        message = self._message(request, pb.MEDIA_TYPE_UNSPECIFIED, with_body=True)
        reply = await call(message, metadata=request.metadata, timeout=self._timeout)
        return created(path, reply.id)

    async def upsert(self, path: str, call: Call, request: Request) -> Response:
        """POST /temporal/entities: 201 with Location when the broker created it, else 204."""
        message = self._message(request, pb.MEDIA_TYPE_UNSPECIFIED, with_body=True)
        reply = await call(message, metadata=request.metadata, timeout=self._timeout)
        return created(path, reply.id) if reply.id else no_content()

    async def read(self, call: Call, request: Request) -> Response:
        """GET (or POST query) a resource or a list: 200, or 206 with Content-Range for a partial range."""
        kind, media = accepted(request, PLAIN_ACCEPT)
        message = self._message(request, media, with_body=request.method == "POST")
        reply = await call(message, metadata=request.metadata, timeout=self._timeout)
        response = document(reply.document, kind, 206 if reply.content_range else 200)
        if reply.content_range:
            response.headers.append((_CONTENT_RANGE, reply.content_range.encode()))
        return with_count(response, message.count, reply.count)

    async def write(self, call: Call, request: Request) -> Response:
        """PATCH, DELETE or POST attrs: 204, or the broker's document (a 207 result) when it sends one."""
        message = self._message(request, pb.MEDIA_TYPE_UNSPECIFIED, with_body=request.method != "DELETE")
        reply = await call(message, metadata=request.metadata, timeout=self._timeout)
        if reply.document.body:
            return document(reply.document, "application/json", 207)
        return no_content()
