"""The broker's use cases: one async method per `cityos.broker.v1.Broker` RPC, no grpc imports.

Methods take the generated request messages (plain data carriers) and the raw tenant of the call, and
return response messages; failures are `ProblemError`s, which the servicer turns into gRPC statuses.
"""

from __future__ import annotations

from typing import NoReturn

from cityos.broker.v1 import broker_pb2 as pb
from cityos_runtime.problems import ProblemError

from cityos_broker.config import BrokerSettings
from cityos_broker.ngsild.contexts import ContextResolver
from cityos_broker.store import Store
from cityos_broker.subscriptions.store import SubscriptionStore
from cityos_broker.temporal.runtime import TemporalRuntime
from cityos_broker.usecases.batch import BatchUseCases
from cityos_broker.usecases.catalog import CatalogUseCases
from cityos_broker.usecases.entities import EntityUseCases
from cityos_broker.usecases.subscriptions import ANYONE, Caller, SubscriptionUseCases
from cityos_broker.usecases.support import Support
from cityos_broker.usecases.temporal import TemporalUseCases


def _not_yet(what: str) -> NoReturn:
    raise ProblemError("OperationNotSupported", f"{what} arrives with the data-flows issue", status=501)


class Broker:
    """NGSI-LD context broker use cases over a store and a context resolver."""

    def __init__(
        self,
        settings: BrokerSettings,
        store: Store,
        resolver: ContextResolver,
        *,
        subscriptions: SubscriptionStore,
        temporal: TemporalRuntime | None = None,
    ) -> None:
        support = Support(settings, store, resolver)
        self._subscriptions = SubscriptionUseCases(support, subscriptions)
        self._entities = EntityUseCases(support)
        self._batch = BatchUseCases(support)
        self._catalog = CatalogUseCases(support)
        self._temporal = (
            TemporalUseCases(support, temporal.history, temporal.archive, settings.temporal.max_instances)
            if temporal is not None
            else None
        )

    # Entities
    async def create_entity(self, tenant: str, request: pb.CreateEntityRequest) -> pb.CreateEntityResponse:
        return await self._entities.create(tenant, request)

    async def retrieve_entity(self, tenant: str, request: pb.RetrieveEntityRequest) -> pb.Document:
        return await self._entities.retrieve(tenant, request)

    async def query_entities(self, tenant: str, request: pb.QueryEntitiesRequest) -> pb.QueryEntitiesResponse:
        return await self._entities.query(tenant, request)

    async def delete_entity(self, tenant: str, request: pb.DeleteEntityRequest) -> pb.DeleteEntityResponse:
        return await self._entities.delete(tenant, request)

    async def merge_entity(self, tenant: str, request: pb.EntityFragmentRequest) -> pb.EntityFragmentResponse:
        return await self._entities.merge(tenant, request)

    async def replace_entity(
        self, tenant: str, request: pb.EntityFragmentRequest
    ) -> pb.EntityFragmentResponse:
        return await self._entities.replace(tenant, request)

    # Attributes
    async def append_attributes(self, tenant: str, request: pb.AttributesRequest) -> pb.AttributesResponse:
        return await self._entities.append_or_update(tenant, request, append=True)

    async def update_attributes(self, tenant: str, request: pb.AttributesRequest) -> pb.AttributesResponse:
        return await self._entities.append_or_update(tenant, request, append=False)

    async def partial_update_attribute(
        self, tenant: str, request: pb.AttributeRequest
    ) -> pb.AttributeResponse:
        return await self._entities.attribute(tenant, request, partial=True)

    async def replace_attribute(self, tenant: str, request: pb.AttributeRequest) -> pb.AttributeResponse:
        return await self._entities.attribute(tenant, request, partial=False)

    async def delete_attribute(
        self, tenant: str, request: pb.DeleteAttributeRequest
    ) -> pb.DeleteAttributeResponse:
        return await self._entities.delete_attribute(tenant, request)

    # Batch
    async def batch(self, tenant: str, request: pb.BatchRequest) -> pb.BatchResponse:
        return await self._batch.run(tenant, request)

    # Discovery
    async def list_types(self, tenant: str, request: pb.DiscoveryRequest) -> pb.Document:
        return await self._catalog.list_types(tenant, request)

    async def retrieve_type(self, tenant: str, request: pb.DiscoveryRequest) -> pb.Document:
        return await self._catalog.retrieve_type(tenant, request)

    async def list_attributes(self, tenant: str, request: pb.DiscoveryRequest) -> pb.Document:
        return await self._catalog.list_attributes(tenant, request)

    async def retrieve_attribute(self, tenant: str, request: pb.DiscoveryRequest) -> pb.Document:
        return await self._catalog.retrieve_attribute(tenant, request)

    # @contexts (global: hosted contexts are not tenant data)
    async def list_contexts(self, tenant: str, request: pb.ContextRequest) -> pb.ContextResponse:
        return await self._catalog.list_contexts(request)

    async def serve_context(self, tenant: str, request: pb.ContextRequest) -> pb.ContextResponse:
        return await self._catalog.serve_context(request)

    async def add_context(self, tenant: str, request: pb.ContextRequest) -> pb.ContextResponse:
        return await self._catalog.add_context(request)

    async def delete_context(self, tenant: str, request: pb.ContextRequest) -> pb.ContextResponse:
        return await self._catalog.delete_context(request)

    # Subscriptions
    async def create_subscription(
        self, tenant: str, request: pb.ResourceRequest, caller: Caller = ANYONE
    ) -> pb.ResourceResponse:
        return await self._subscriptions.create(tenant, request, caller)

    async def retrieve_subscription(
        self, tenant: str, request: pb.ResourceRequest, caller: Caller = ANYONE
    ) -> pb.ResourceResponse:
        return await self._subscriptions.retrieve(tenant, request, caller)

    async def query_subscriptions(
        self, tenant: str, request: pb.ResourceRequest, caller: Caller = ANYONE
    ) -> pb.ResourceResponse:
        return await self._subscriptions.query(tenant, request, caller)

    async def update_subscription(
        self, tenant: str, request: pb.ResourceRequest, caller: Caller = ANYONE
    ) -> pb.ResourceResponse:
        return await self._subscriptions.update(tenant, request, caller)

    async def delete_subscription(
        self, tenant: str, request: pb.ResourceRequest, caller: Caller = ANYONE
    ) -> pb.ResourceResponse:
        return await self._subscriptions.delete(tenant, request, caller)

    # Temporal API
    def _temporal_api(self) -> TemporalUseCases:
        if self._temporal is None:
            _not_yet("the temporal API")
        return self._temporal

    async def create_temporal_entity(self, tenant: str, request: pb.ResourceRequest) -> pb.ResourceResponse:
        return await self._temporal_api().create(tenant, request)

    async def retrieve_temporal_entity(self, tenant: str, request: pb.ResourceRequest) -> pb.ResourceResponse:
        return await self._temporal_api().retrieve(tenant, request)

    async def query_temporal_entities(self, tenant: str, request: pb.ResourceRequest) -> pb.ResourceResponse:
        return await self._temporal_api().query(tenant, request)

    async def delete_temporal_entity(self, tenant: str, request: pb.ResourceRequest) -> pb.ResourceResponse:
        return await self._temporal_api().delete(tenant, request)

    async def append_temporal_attributes(
        self, tenant: str, request: pb.ResourceRequest
    ) -> pb.ResourceResponse:
        return await self._temporal_api().append(tenant, request)

    async def delete_temporal_attribute(
        self, tenant: str, request: pb.ResourceRequest
    ) -> pb.ResourceResponse:
        return await self._temporal_api().delete_attribute(tenant, request)

    # Context source registrations: not built yet, and said so.
    async def registration(self, tenant: str, request: pb.ResourceRequest) -> pb.ResourceResponse:
        _not_yet("context source registration")

    # Tenants
    async def ensure_tenant(self, tenant: str, request: pb.TenantRequest) -> pb.TenantResponse:
        return await self._catalog.ensure_tenant(request)

    async def get_tenant(self, tenant: str, request: pb.TenantRequest) -> pb.TenantResponse:
        return await self._catalog.get_tenant(request)

    async def list_tenants(self, tenant: str, request: pb.ListTenantsRequest) -> pb.ListTenantsResponse:
        return await self._catalog.list_tenants()

    async def purge_tenant(self, tenant: str, request: pb.TenantRequest) -> pb.TenantResponse:
        return await self._catalog.purge_tenant(request)
