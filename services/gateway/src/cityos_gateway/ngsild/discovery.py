"""Discovery and @context routes: /types, /attributes, /jsonldContexts."""

from __future__ import annotations

from typing import TYPE_CHECKING

from cityos.broker.v1 import broker_pb2 as pb
from cityos_runtime.problems import ProblemError

from cityos_gateway import params
from cityos_gateway.http import Request, Response
from cityos_gateway.negotiation import JSON_LD, PLAIN_ACCEPT
from cityos_gateway.ngsild.common import accepted, body_ld, created, document, header_ld, no_content
from cityos_gateway.router import Handler

if TYPE_CHECKING:
    from collections.abc import Awaitable, Callable

    from cityos.broker.v1.broker_pb2_grpc import BrokerAsyncStub

# The `kind` filter of GET /jsonldContexts (clause 6.3.x: Hosted, Cached, ImplicitlyCreated).
_CONTEXT_KINDS = {"hosted": "hosted", "cached": "cached", "implicitlycreated": "implicitlycreated"}
_CONTEXT_ACCEPT = (JSON_LD, "application/json")


class DiscoveryRoutes:
    """Maps type and attribute discovery and the @context store onto their Broker RPCs."""

    def __init__(self, stub: BrokerAsyncStub, timeout: float) -> None:
        self._stub = stub
        self._timeout = timeout

    def routes(self) -> dict[str, dict[str, Handler]]:
        """Path templates (below /ngsi-ld/v1) and their handlers by method."""
        return {
            "/types": {"GET": self.list_types},
            "/types/{type}": {"GET": self.retrieve_type},
            "/attributes": {"GET": self.list_attributes},
            "/attributes/{attr}": {"GET": self.retrieve_attribute},
            "/jsonldContexts": {"GET": self.list_contexts, "POST": self.add_context},
            "/jsonldContexts/{id}": {"GET": self.serve_context, "DELETE": self.delete_context},
        }

    async def _discover(
        self, request: Request, call: Callable[..., Awaitable[pb.Document]], name: str = ""
    ) -> Response:
        kind, media = accepted(request, PLAIN_ACCEPT)
        ld = header_ld(request)
        opts = params.options(request.query)
        message = pb.DiscoveryRequest(
            name=name,
            details=params.flag(request.query, "details"),
            render=params.render(request.query, media, ld.link_context, opts),
        )
        reply = await call(message, metadata=request.metadata, timeout=self._timeout)
        return document(reply, kind)

    async def list_types(self, request: Request) -> Response:
        """GET /types (details=true for EntityTypeInfo-like details)."""
        return await self._discover(request, self._stub.ListTypes)

    async def retrieve_type(self, request: Request) -> Response:
        """GET /types/{type}."""
        return await self._discover(request, self._stub.RetrieveType, request.path_params[0])

    async def list_attributes(self, request: Request) -> Response:
        """GET /attributes (details=true for Attribute details)."""
        return await self._discover(request, self._stub.ListAttributes)

    async def retrieve_attribute(self, request: Request) -> Response:
        """GET /attributes/{attr}."""
        return await self._discover(request, self._stub.RetrieveAttribute, request.path_params[0])

    async def list_contexts(self, request: Request) -> Response:
        """GET /jsonldContexts (details, kind)."""
        kind, _ = accepted(request, PLAIN_ACCEPT)
        raw_kind = request.query.get("kind", "")
        filter_kind = _CONTEXT_KINDS.get(raw_kind.lower(), "") if raw_kind else ""
        if raw_kind and not filter_kind:
            raise ProblemError(
                "BadRequestData", f"kind must be Hosted, Cached or ImplicitlyCreated, got {raw_kind!r}"
            )
        message = pb.ContextRequest(details=params.flag(request.query, "details"), kind=filter_kind)
        reply = await self._stub.ListContexts(message, metadata=request.metadata, timeout=self._timeout)
        return document(reply.document, kind)

    async def add_context(self, request: Request) -> Response:
        """POST /jsonldContexts: 201 with the hosted context's Location."""
        body_ld(request)
        message = pb.ContextRequest(context=request.body)
        reply = await self._stub.AddContext(message, metadata=request.metadata, timeout=self._timeout)
        return created("/jsonldContexts", reply.id)

    async def serve_context(self, request: Request) -> Response:
        """GET /jsonldContexts/{id}: the @context document itself."""
        kind, _ = accepted(request, _CONTEXT_ACCEPT)
        message = pb.ContextRequest(id=request.path_params[0], details=params.flag(request.query, "details"))
        reply = await self._stub.ServeContext(message, metadata=request.metadata, timeout=self._timeout)
        return document(reply.document, kind)

    async def delete_context(self, request: Request) -> Response:
        """DELETE /jsonldContexts/{id} (reload=true refreshes a cached context): 204."""
        message = pb.ContextRequest(id=request.path_params[0], reload=params.flag(request.query, "reload"))
        await self._stub.DeleteContext(message, metadata=request.metadata, timeout=self._timeout)
        return no_content()
