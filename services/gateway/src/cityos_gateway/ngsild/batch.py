"""Batch routes: /entityOperations/{create,upsert,update,delete,merge} and /entityOperations/query."""

from __future__ import annotations

from functools import partial
from typing import TYPE_CHECKING

import orjson
from cityos.broker.v1 import broker_pb2 as pb
from cityos_runtime.problems import ProblemError

from cityos_gateway import params
from cityos_gateway.http import Request, Response
from cityos_gateway.negotiation import PLAIN_ACCEPT
from cityos_gateway.ngsild.common import accepted, body_ld, document, json_response, no_content, with_count
from cityos_gateway.router import Handler

if TYPE_CHECKING:
    from cityos.broker.v1.broker_pb2_grpc import BrokerAsyncStub

_OPERATIONS = {
    "create": pb.BATCH_OPERATION_CREATE,
    "upsert": pb.BATCH_OPERATION_UPSERT,
    "update": pb.BATCH_OPERATION_UPDATE,
    "delete": pb.BATCH_OPERATION_DELETE,
    "merge": pb.BATCH_OPERATION_MERGE,
}


class BatchRoutes:
    """Maps the batch operations and the POST query onto Broker.Batch and Broker.QueryEntities."""

    def __init__(self, stub: BrokerAsyncStub, timeout: float) -> None:
        self._stub = stub
        self._timeout = timeout

    def routes(self) -> dict[str, dict[str, Handler]]:
        """Path templates (below /ngsi-ld/v1) and their handlers by method."""
        table: dict[str, dict[str, Handler]] = {
            f"/entityOperations/{name}": {"POST": partial(self.batch, name)} for name in _OPERATIONS
        }
        table["/entityOperations/query"] = {"POST": self.query}
        return table

    async def batch(self, name: str, request: Request) -> Response:
        """One batch operation; 201 / 204 on full success, else 207 with the BatchOperationResult."""
        opts = params.options(request.query)
        if {"replace", "update"} <= opts:
            raise ProblemError("BadRequestData", "options may hold only one of replace and update")
        message = pb.BatchRequest(
            operation=_OPERATIONS[name],
            ld=body_ld(request),
            entities=request.body,
            # NGSI-LD: upsert replaces existing entities unless options=update is given.
            replace=name == "upsert" and "update" not in opts,
            no_overwrite=name == "update" and "noOverwrite" in opts,
        )
        reply = await self._stub.Batch(message, metadata=request.metadata, timeout=self._timeout)
        return _batch_result(name, reply)

    async def query(self, request: Request) -> Response:
        """POST /entityOperations/query: a Query body; limit, offset, count and render options in the URL."""
        kind, media = accepted(request, PLAIN_ACCEPT)
        query = request.query
        ld = body_ld(request)
        limit = params.non_negative(query, "limit")
        count = params.flag(query, "count")
        message = pb.QueryEntitiesRequest(
            render=params.render(query, media, ld.link_context, params.options(query)),
            ld=ld,
            query_body=request.body,
            limit=limit or 0,
            offset=params.non_negative(query, "offset") or 0,
            count=count,
            limit_set=limit is not None,
        )
        reply = await self._stub.QueryEntities(message, metadata=request.metadata, timeout=self._timeout)
        return with_count(document(reply.document, kind), count, reply.count)


def _batch_result(name: str, reply: pb.BatchResponse) -> Response:
    """The status and body GS CIM 009 clause 6.14-6.31 give each batch outcome."""
    if reply.errors:
        return json_response(207, batch_operation_result(reply))
    if name == "create":
        return json_response(201, orjson.dumps(list(reply.success)))
    if name == "upsert" and reply.created:
        return json_response(201, orjson.dumps(list(reply.created)))
    return no_content()


def batch_operation_result(reply: pb.BatchResponse) -> bytes:
    """The BatchOperationResult {success, errors: [{entityId, error}]} (clause 5.2.16), problems as sent."""
    errors = [
        {"entityId": item.entity_id, "error": orjson.Fragment(item.problem or _UNKNOWN_PROBLEM)}
        for item in reply.errors
    ]
    return orjson.dumps({"success": list(reply.success), "errors": errors})


_UNKNOWN_PROBLEM = ProblemError("InternalError", "the operation failed for this entity").to_json()
