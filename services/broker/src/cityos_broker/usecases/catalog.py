"""Discovery (/types, /attributes), hosted and cached @contexts (/jsonldContexts) and tenant lifecycle."""

from __future__ import annotations

import uuid
from typing import Any

import orjson
from cityos.broker.v1 import broker_pb2 as pb
from cityos_runtime.problems import ProblemError

from cityos_broker.ngsild.contexts import core_context, is_core_context_url
from cityos_broker.store import utc_now
from cityos_broker.store.contexts import HostedContext
from cityos_broker.usecases.support import JSON, JSON_LD, Rendering, Support, parse_object

HOSTED_PATH = "/ngsi-ld/v1/jsonldContexts/"


class CatalogUseCases:
    """Discovery, @context management and tenants."""

    def __init__(self, support: Support) -> None:
        self._s = support

    # Discovery -------------------------------------------------------------------------------------------

    async def list_types(self, tenant_raw: str, request: pb.DiscoveryRequest) -> pb.Document:
        tenant = await self._s.read_tenant(tenant_raw)
        rendering = await self._s.rendering(request.render)
        terms = rendering.terms
        body: Any
        if request.details:
            body = [
                {
                    "id": info.iri,
                    "type": "EntityType",
                    "typeName": terms.compact(info.iri),
                    "attributeNames": [terms.compact(a) for a in info.attributes],
                }
                for info in await self._s.store.discovery.types(tenant)
            ]
            return self._s.document(body, rendering, each_item=True)
        counts = await self._s.store.discovery.type_counts(tenant)
        body = {
            "id": f"urn:ngsi-ld:EntityTypeList:{uuid.uuid4()}",
            "type": "EntityTypeList",
            "typeList": [terms.compact(iri) for iri in sorted(counts)],
        }
        return self._s.document(body, rendering)

    async def retrieve_type(self, tenant_raw: str, request: pb.DiscoveryRequest) -> pb.Document:
        tenant = await self._s.read_tenant(tenant_raw)
        rendering = await self._s.rendering(request.render)
        terms = rendering.terms
        iri = terms.expand(request.name)
        found = await self._s.store.discovery.types(tenant, [iri])
        if not found:
            raise ProblemError("ResourceNotFound", f"no entity has the type {request.name!r}")
        info = found[0]
        kinds = await self._s.store.discovery.type_attribute_kinds(tenant, iri)
        body = {
            "id": iri,
            "type": "EntityTypeInfo",
            "typeName": terms.compact(iri),
            "entityCount": info.entity_count,
            "attributeDetails": [
                {
                    "id": attr,
                    "type": "Attribute",
                    "attributeName": terms.compact(attr),
                    "attributeTypes": list(kinds.get(attr, ())),
                }
                for attr in info.attributes
            ],
        }
        return self._s.document(body, rendering)

    async def list_attributes(self, tenant_raw: str, request: pb.DiscoveryRequest) -> pb.Document:
        tenant = await self._s.read_tenant(tenant_raw)
        rendering = await self._s.rendering(request.render)
        terms = rendering.terms
        if request.details:
            infos = await self._s.store.discovery.attributes(tenant)
            return self._s.document([self._attribute(i, rendering) for i in infos], rendering, each_item=True)
        counts = await self._s.store.discovery.attribute_counts(tenant)
        body = {
            "id": f"urn:ngsi-ld:AttributeList:{uuid.uuid4()}",
            "type": "AttributeList",
            "attributeList": [terms.compact(iri) for iri in sorted(counts)],
        }
        return self._s.document(body, rendering)

    async def retrieve_attribute(self, tenant_raw: str, request: pb.DiscoveryRequest) -> pb.Document:
        tenant = await self._s.read_tenant(tenant_raw)
        rendering = await self._s.rendering(request.render)
        found = await self._s.store.discovery.attributes(tenant, [rendering.terms.expand(request.name)])
        if not found:
            raise ProblemError("ResourceNotFound", f"no entity has the attribute {request.name!r}")
        return self._s.document(self._attribute(found[0], rendering), rendering)

    @staticmethod
    def _attribute(info: Any, rendering: Rendering) -> dict[str, Any]:
        terms = rendering.terms
        return {
            "id": info.iri,
            "type": "Attribute",
            "attributeName": terms.compact(info.iri),
            "attributeCount": info.instance_count,
            "attributeTypes": list(info.kinds),
            "typeNames": [terms.compact(t) for t in info.types],
        }

    # @contexts -------------------------------------------------------------------------------------------

    async def add_context(self, request: pb.ContextRequest) -> pb.ContextResponse:
        doc = parse_object(request.context, "@context document")
        if "@context" not in doc or not isinstance(doc["@context"], dict | list | str):
            raise ProblemError("BadRequestData", "the document must carry an @context member")
        # Compile it now, so an unusable context is refused at upload instead of at every later use.
        await self._s.resolver.term_map_for(None, doc["@context"], hosted=self._s.store.contexts)
        context_id = await self._s.store.contexts.add(doc, utc_now())
        return pb.ContextResponse(id=context_id)

    async def list_contexts(self, request: pb.ContextRequest) -> pb.ContextResponse:
        kind = request.kind.lower()
        if kind and kind not in ("hosted", "cached", "implicitlycreated"):
            raise ProblemError("BadRequestData", f"unknown context kind {request.kind!r}")
        entries: list[dict[str, Any]] = []
        if kind in ("", "hosted"):
            entries += [self._hosted_entry(h) for h in await self._s.store.contexts.list()]
        if kind in ("", "cached"):
            entries += [
                {
                    "URL": c.url,
                    "localId": c.url,
                    "kind": "Cached",
                    "createdAt": c.fetched_at,
                    "lastUsage": c.last_used,
                    "numberOfHits": c.hits,
                }
                for c in self._s.resolver.cached_entries()
            ]
        body: Any = entries if request.details else [e["URL"] for e in entries]
        return pb.ContextResponse(document=pb.Document(body=orjson.dumps(body), content_type=JSON))

    async def serve_context(self, request: pb.ContextRequest) -> pb.ContextResponse:
        if is_core_context_url(request.id):
            body: Any = (
                {"URL": request.id, "localId": "core", "kind": "Cached", "extraInfo": "built into the broker"}
                if request.details
                else core_context()
            )
            return pb.ContextResponse(document=pb.Document(body=orjson.dumps(body), content_type=JSON_LD))
        hosted = await self._s.store.contexts.describe(request.id)
        if hosted is not None:
            body = self._hosted_entry(hosted) if request.details else hosted.document
            return pb.ContextResponse(document=pb.Document(body=orjson.dumps(body), content_type=JSON_LD))
        for cached in self._s.resolver.cached_entries():
            if cached.url == request.id:
                body = (
                    {"URL": cached.url, "localId": cached.url, "kind": "Cached", "numberOfHits": cached.hits}
                    if request.details
                    else cached.document
                )
                return pb.ContextResponse(document=pb.Document(body=orjson.dumps(body), content_type=JSON_LD))
        raise ProblemError("ResourceNotFound", f"no @context {request.id!r} is hosted or cached here")

    async def delete_context(self, request: pb.ContextRequest) -> pb.ContextResponse:
        if is_core_context_url(request.id):
            raise ProblemError("BadRequestData", "the NGSI-LD core context cannot be deleted")
        if await self._s.store.contexts.delete(request.id):
            return pb.ContextResponse(id=request.id)
        if self._s.resolver.evict(request.id):
            if request.reload:
                await self._s.link_terms(request.id)
            return pb.ContextResponse(id=request.id)
        raise ProblemError("ResourceNotFound", f"no @context {request.id!r} is hosted or cached here")

    @staticmethod
    def _hosted_entry(hosted: HostedContext) -> dict[str, Any]:
        return {
            "URL": HOSTED_PATH + hosted.context_id,
            "localId": hosted.context_id,
            "kind": "Hosted",
            "createdAt": hosted.created_at,
        }

    # Tenants ---------------------------------------------------------------------------------------------

    async def ensure_tenant(self, request: pb.TenantRequest) -> pb.TenantResponse:
        tenant = self._s.tenant_name(request.tenant)
        await self._s.store.tenants.ensure(tenant)
        return pb.TenantResponse(tenant=tenant, exists=True)

    async def get_tenant(self, request: pb.TenantRequest) -> pb.TenantResponse:
        tenant = self._s.tenant_name(request.tenant)
        return pb.TenantResponse(tenant=tenant, exists=await self._s.store.tenants.exists(tenant))

    async def list_tenants(self) -> pb.ListTenantsResponse:
        return pb.ListTenantsResponse(tenants=await self._s.store.tenants.list())

    async def purge_tenant(self, request: pb.TenantRequest) -> pb.TenantResponse:
        tenant = self._s.tenant_name(request.tenant)
        if not await self._s.store.tenants.purge(tenant):
            raise ProblemError("NonexistentTenant", f"tenant {tenant!r} does not exist")
        return pb.TenantResponse(tenant=tenant, exists=False)
