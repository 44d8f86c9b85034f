"""Thin gRPC adapter: tenant from metadata, the `Broker` use case, ProblemError as a ProblemDetails status."""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable
from typing import TypeAlias, TypeVar

import grpc
from cityos.broker.v1 import broker_pb2 as pb
from cityos.broker.v1 import broker_pb2_grpc
from cityos_runtime.metadata import CLIENT_ID, OWN_ONLY, call_tenant, metadata_value
from cityos_runtime.problems import ProblemError, abort_with_problem
from opentelemetry import trace
from redis.exceptions import ConnectionError as RedisConnectionError
from redis.exceptions import TimeoutError as RedisTimeoutError

from cityos_broker.broker import Broker
from cityos_broker.usecases.subscriptions import ANYONE, Caller

_log = logging.getLogger(__name__)

Context: TypeAlias = grpc.aio.ServicerContext
Req = TypeVar("Req")
Resp = TypeVar("Resp")


def _caller(context: Context) -> Caller:
    """The subscription caller from the gateway's metadata (absent: no owner, every subscription)."""
    metadata = context.invocation_metadata() or ()
    if not any(key == CLIENT_ID for key, _ in metadata):
        return ANYONE
    return Caller(metadata_value(metadata, CLIENT_ID), metadata_value(metadata, OWN_ONLY) == "1")


def _trace_id() -> str:
    span_context = trace.get_current_span().get_span_context()
    return format(span_context.trace_id, "032x") if span_context.is_valid else ""


class BrokerServicer(broker_pb2_grpc.BrokerServicer):
    """Every `cityos.broker.v1.Broker` RPC, delegated to `Broker`."""

    def __init__(self, broker: Broker) -> None:
        self._broker = broker

    async def _call(
        self, use_case: Callable[[str, Req], Awaitable[Resp]], request: Req, context: Context
    ) -> Resp:
        """Run a use case; problems become gRPC statuses, anything unexpected a 500 without internals."""
        try:
            return await use_case(call_tenant(context), request)
        except ProblemError as problem:
            await abort_with_problem(context, problem)
        except (RedisConnectionError, RedisTimeoutError) as error:
            # Redis down or unreachable is an outage the caller may retry, not a bug: 503 and a warning.
            _log.warning(
                "data store unavailable", extra={"rpc": use_case.__name__, "error": type(error).__name__}
            )
            outage = ProblemError("InternalError", "the data store is unavailable; retry later", status=503)
            await abort_with_problem(context, outage)
        except Exception:
            trace_id = _trace_id()
            _log.exception("unexpected failure", extra={"rpc": use_case.__name__, "trace_id": trace_id})
            detail = "the broker failed unexpectedly" + (f"; trace id {trace_id}" if trace_id else "")
            await abort_with_problem(context, ProblemError("InternalError", detail, status=500))

    async def _as_caller(
        self, use_case: Callable[[str, Req, Caller], Awaitable[Resp]], request: Req, context: Context
    ) -> Resp:
        """Run a subscription use case for the calling client the gateway names in the metadata."""
        caller = _caller(context)

        async def bound(tenant: str, message: Req) -> Resp:
            return await use_case(tenant, message, caller)

        bound.__name__ = use_case.__name__
        return await self._call(bound, request, context)

    async def CreateEntity(
        self, request: pb.CreateEntityRequest, context: Context
    ) -> pb.CreateEntityResponse:
        return await self._call(self._broker.create_entity, request, context)

    async def RetrieveEntity(self, request: pb.RetrieveEntityRequest, context: Context) -> pb.Document:
        return await self._call(self._broker.retrieve_entity, request, context)

    async def QueryEntities(
        self, request: pb.QueryEntitiesRequest, context: Context
    ) -> pb.QueryEntitiesResponse:
        return await self._call(self._broker.query_entities, request, context)

    async def DeleteEntity(
        self, request: pb.DeleteEntityRequest, context: Context
    ) -> pb.DeleteEntityResponse:
        return await self._call(self._broker.delete_entity, request, context)

    async def MergeEntity(
        self, request: pb.EntityFragmentRequest, context: Context
    ) -> pb.EntityFragmentResponse:
        return await self._call(self._broker.merge_entity, request, context)

    async def ReplaceEntity(
        self, request: pb.EntityFragmentRequest, context: Context
    ) -> pb.EntityFragmentResponse:
        return await self._call(self._broker.replace_entity, request, context)

    async def AppendAttributes(
        self, request: pb.AttributesRequest, context: Context
    ) -> pb.AttributesResponse:
        return await self._call(self._broker.append_attributes, request, context)

    async def UpdateAttributes(
        self, request: pb.AttributesRequest, context: Context
    ) -> pb.AttributesResponse:
        return await self._call(self._broker.update_attributes, request, context)

    async def PartialUpdateAttribute(
        self, request: pb.AttributeRequest, context: Context
    ) -> pb.AttributeResponse:
        return await self._call(self._broker.partial_update_attribute, request, context)

    async def ReplaceAttribute(self, request: pb.AttributeRequest, context: Context) -> pb.AttributeResponse:
        return await self._call(self._broker.replace_attribute, request, context)

    async def DeleteAttribute(
        self, request: pb.DeleteAttributeRequest, context: Context
    ) -> pb.DeleteAttributeResponse:
        return await self._call(self._broker.delete_attribute, request, context)

    async def Batch(self, request: pb.BatchRequest, context: Context) -> pb.BatchResponse:
        return await self._call(self._broker.batch, request, context)

    async def ListTypes(self, request: pb.DiscoveryRequest, context: Context) -> pb.Document:
        return await self._call(self._broker.list_types, request, context)

    async def RetrieveType(self, request: pb.DiscoveryRequest, context: Context) -> pb.Document:
        return await self._call(self._broker.retrieve_type, request, context)

    async def ListAttributes(self, request: pb.DiscoveryRequest, context: Context) -> pb.Document:
        return await self._call(self._broker.list_attributes, request, context)

    async def RetrieveAttribute(self, request: pb.DiscoveryRequest, context: Context) -> pb.Document:
        return await self._call(self._broker.retrieve_attribute, request, context)

    async def ListContexts(self, request: pb.ContextRequest, context: Context) -> pb.ContextResponse:
        return await self._call(self._broker.list_contexts, request, context)

    async def ServeContext(self, request: pb.ContextRequest, context: Context) -> pb.ContextResponse:
        return await self._call(self._broker.serve_context, request, context)

    async def AddContext(self, request: pb.ContextRequest, context: Context) -> pb.ContextResponse:
        return await self._call(self._broker.add_context, request, context)

    async def DeleteContext(self, request: pb.ContextRequest, context: Context) -> pb.ContextResponse:
        return await self._call(self._broker.delete_context, request, context)

    async def CreateSubscription(self, request: pb.ResourceRequest, context: Context) -> pb.ResourceResponse:
        return await self._as_caller(self._broker.create_subscription, request, context)

    async def RetrieveSubscription(
        self, request: pb.ResourceRequest, context: Context
    ) -> pb.ResourceResponse:
        return await self._as_caller(self._broker.retrieve_subscription, request, context)

    async def QuerySubscriptions(self, request: pb.ResourceRequest, context: Context) -> pb.ResourceResponse:
        return await self._as_caller(self._broker.query_subscriptions, request, context)

    async def UpdateSubscription(self, request: pb.ResourceRequest, context: Context) -> pb.ResourceResponse:
        return await self._as_caller(self._broker.update_subscription, request, context)

    async def DeleteSubscription(self, request: pb.ResourceRequest, context: Context) -> pb.ResourceResponse:
        return await self._as_caller(self._broker.delete_subscription, request, context)

    async def CreateTemporalEntity(
        self, request: pb.ResourceRequest, context: Context
    ) -> pb.ResourceResponse:
        return await self._call(self._broker.create_temporal_entity, request, context)

    async def RetrieveTemporalEntity(
        self, request: pb.ResourceRequest, context: Context
    ) -> pb.ResourceResponse:
        return await self._call(self._broker.retrieve_temporal_entity, request, context)

    async def QueryTemporalEntities(
        self, request: pb.ResourceRequest, context: Context
    ) -> pb.ResourceResponse:
        return await self._call(self._broker.query_temporal_entities, request, context)

    async def DeleteTemporalEntity(
        self, request: pb.ResourceRequest, context: Context
    ) -> pb.ResourceResponse:
        return await self._call(self._broker.delete_temporal_entity, request, context)

    async def AppendTemporalAttributes(
        self, request: pb.ResourceRequest, context: Context
    ) -> pb.ResourceResponse:
        return await self._call(self._broker.append_temporal_attributes, request, context)

    async def DeleteTemporalAttribute(
        self, request: pb.ResourceRequest, context: Context
    ) -> pb.ResourceResponse:
        return await self._call(self._broker.delete_temporal_attribute, request, context)

    async def CreateRegistration(self, request: pb.ResourceRequest, context: Context) -> pb.ResourceResponse:
        return await self._call(self._broker.registration, request, context)

    async def RetrieveRegistration(
        self, request: pb.ResourceRequest, context: Context
    ) -> pb.ResourceResponse:
        return await self._call(self._broker.registration, request, context)

    async def QueryRegistrations(self, request: pb.ResourceRequest, context: Context) -> pb.ResourceResponse:
        return await self._call(self._broker.registration, request, context)

    async def UpdateRegistration(self, request: pb.ResourceRequest, context: Context) -> pb.ResourceResponse:
        return await self._call(self._broker.registration, request, context)

    async def DeleteRegistration(self, request: pb.ResourceRequest, context: Context) -> pb.ResourceResponse:
        return await self._call(self._broker.registration, request, context)

    async def EnsureTenant(self, request: pb.TenantRequest, context: Context) -> pb.TenantResponse:
        return await self._call(self._broker.ensure_tenant, request, context)

    async def GetTenant(self, request: pb.TenantRequest, context: Context) -> pb.TenantResponse:
        return await self._call(self._broker.get_tenant, request, context)

    async def ListTenants(self, request: pb.ListTenantsRequest, context: Context) -> pb.ListTenantsResponse:
        return await self._call(self._broker.list_tenants, request, context)

    async def PurgeTenant(self, request: pb.TenantRequest, context: Context) -> pb.TenantResponse:
        return await self._call(self._broker.purge_tenant, request, context)


def register(servicer: BrokerServicer) -> Callable[[grpc.aio.Server], None]:
    """The registration callback for `GrpcServer.add`."""

    def add(server: grpc.aio.Server) -> None:
        broker_pb2_grpc.add_BrokerServicer_to_server(servicer, server)

    return add


SERVICE_NAME = pb.DESCRIPTOR.services_by_name["Broker"].full_name
