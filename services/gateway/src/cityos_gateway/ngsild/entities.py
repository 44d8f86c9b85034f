"""Entity and attribute routes: /entities, /entities/{id}, /entities/{id}/attrs[/{attrId}]."""

from __future__ import annotations

from typing import TYPE_CHECKING

import orjson
from cityos.broker.v1 import broker_pb2 as pb

from cityos_gateway import params
from cityos_gateway.http import Request, Response
from cityos_gateway.negotiation import ENTITY_ACCEPT, MERGE_BODY_TYPES
from cityos_gateway.ngsild.common import (
    accepted,
    body_ld,
    created,
    document,
    header_ld,
    json_response,
    no_content,
    with_count,
)
from cityos_gateway.router import Handler

if TYPE_CHECKING:
    from cityos.broker.v1.broker_pb2_grpc import BrokerAsyncStub


class EntityRoutes:
    """Maps the entity and attribute operations onto their Broker RPCs."""

    def __init__(self, stub: BrokerAsyncStub, timeout: float) -> None:
        self._stub = stub
        self._timeout = timeout

    def routes(self) -> dict[str, dict[str, Handler]]:
        """Path templates (below /ngsi-ld/v1) and their handlers by method."""
        return {
            "/entities": {"GET": self.query, "POST": self.create},
            "/entities/{id}": {
                "GET": self.retrieve,
                "DELETE": self.delete,
                "PATCH": self.merge,
                "PUT": self.replace,
            },
            "/entities/{id}/attrs": {"POST": self.append, "PATCH": self.update},
            "/entities/{id}/attrs/{attrId}": {
                "PATCH": self.partial_update_attribute,
                "PUT": self.replace_attribute,
                "DELETE": self.delete_attribute,
            },
        }

    async def create(self, request: Request) -> Response:
        """POST /entities: 201 with the new entity's Location."""
        message = pb.CreateEntityRequest(ld=body_ld(request), entity=request.body)
        reply = await self._stub.CreateEntity(message, metadata=request.metadata, timeout=self._timeout)
        return created("/entities", reply.id)

    async def query(self, request: Request) -> Response:
        """GET /entities: the matching entities, NGSILD-Results-Count on count=true."""
        kind, media = accepted(request, ENTITY_ACCEPT)
        query = request.query
        ld = header_ld(request)
        limit = params.non_negative(query, "limit")
        count = params.flag(query, "count")
        message = pb.QueryEntitiesRequest(
            query=params.entity_query(query),
            render=params.render(query, media, ld.link_context, params.options(query)),
            ld=ld,
            limit=limit or 0,
            offset=params.non_negative(query, "offset") or 0,
            count=count,
            limit_set=limit is not None,
        )
        reply = await self._stub.QueryEntities(message, metadata=request.metadata, timeout=self._timeout)
        return with_count(document(reply.document, kind), count, reply.count)

    async def retrieve(self, request: Request) -> Response:
        """GET /entities/{id}."""
        kind, media = accepted(request, ENTITY_ACCEPT)
        query = request.query
        ld = header_ld(request)
        message = pb.RetrieveEntityRequest(
            id=request.path_params[0],
            render=params.render(query, media, ld.link_context, params.options(query)),
            type=query.get("type", ""),
        )
        reply = await self._stub.RetrieveEntity(message, metadata=request.metadata, timeout=self._timeout)
        return document(reply, kind)

    async def delete(self, request: Request) -> Response:
        """DELETE /entities/{id}: 204."""
        message = pb.DeleteEntityRequest(id=request.path_params[0], type=request.query.get("type", ""))
        await self._stub.DeleteEntity(message, metadata=request.metadata, timeout=self._timeout)
        return no_content()

    async def merge(self, request: Request) -> Response:
        """PATCH /entities/{id} (merge, also as application/merge-patch+json): 204."""
        message = pb.EntityFragmentRequest(
            id=request.path_params[0], ld=body_ld(request, MERGE_BODY_TYPES), fragment=request.body
        )
        await self._stub.MergeEntity(message, metadata=request.metadata, timeout=self._timeout)
        return no_content()

    async def replace(self, request: Request) -> Response:
        """PUT /entities/{id}: 204."""
        message = pb.EntityFragmentRequest(
            id=request.path_params[0], ld=body_ld(request), fragment=request.body
        )
        await self._stub.ReplaceEntity(message, metadata=request.metadata, timeout=self._timeout)
        return no_content()

    async def append(self, request: Request) -> Response:
        """POST /entities/{id}/attrs: 204, or 207 with the UpdateResult when some were not appended."""
        opts = params.options(request.query)
        message = pb.AttributesRequest(
            id=request.path_params[0],
            ld=body_ld(request),
            fragment=request.body,
            no_overwrite="noOverwrite" in opts,
        )
        reply = await self._stub.AppendAttributes(message, metadata=request.metadata, timeout=self._timeout)
        return _update_result(reply)

    async def update(self, request: Request) -> Response:
        """PATCH /entities/{id}/attrs: 204, or 207 with the UpdateResult when some were not updated."""
        params.options(request.query)
        message = pb.AttributesRequest(id=request.path_params[0], ld=body_ld(request), fragment=request.body)
        reply = await self._stub.UpdateAttributes(message, metadata=request.metadata, timeout=self._timeout)
        return _update_result(reply)

    async def partial_update_attribute(self, request: Request) -> Response:
        """PATCH /entities/{id}/attrs/{attrId}: 204."""
        entity_id, attribute = request.path_params
        message = pb.AttributeRequest(
            id=entity_id, attribute=attribute, ld=body_ld(request), fragment=request.body
        )
        await self._stub.PartialUpdateAttribute(message, metadata=request.metadata, timeout=self._timeout)
        return no_content()

    async def replace_attribute(self, request: Request) -> Response:
        """PUT /entities/{id}/attrs/{attrId}: 204."""
        entity_id, attribute = request.path_params
        message = pb.AttributeRequest(
            id=entity_id, attribute=attribute, ld=body_ld(request), fragment=request.body
        )
        await self._stub.ReplaceAttribute(message, metadata=request.metadata, timeout=self._timeout)
        return no_content()

    async def delete_attribute(self, request: Request) -> Response:
        """DELETE /entities/{id}/attrs/{attrId} (datasetId, deleteAll): 204."""
        entity_id, attribute = request.path_params
        message = pb.DeleteAttributeRequest(
            id=entity_id,
            attribute=attribute,
            ld=header_ld(request),
            dataset_id=request.query.get("datasetId", ""),
            delete_all=params.flag(request.query, "deleteAll"),
        )
        await self._stub.DeleteAttribute(message, metadata=request.metadata, timeout=self._timeout)
        return no_content()


def _update_result(reply: pb.AttributesResponse) -> Response:
    """204 when every attribute was written, else 207 with the NGSI-LD UpdateResult (clause 5.2.18)."""
    if not reply.not_updated:
        return no_content()
    body = orjson.dumps(
        {
            "updated": list(reply.updated),
            "notUpdated": [
                {"attributeName": item.attribute_name, "reason": item.reason} for item in reply.not_updated
            ],
        }
    )
    return json_response(207, body)
