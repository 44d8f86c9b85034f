"""Entity use cases: create, retrieve, query, delete, merge / replace and the attribute operations."""

from __future__ import annotations

from typing import Any

from cityos.broker.v1 import broker_pb2 as pb
from cityos_runtime.problems import ProblemError

from cityos_broker.ngsild import operations as ops
from cityos_broker.ngsild.entity import parse_attribute, parse_entity, parse_fragment, validate_entity_id
from cityos_broker.ngsild.render import render_entities, render_entity, render_geojson
from cityos_broker.store import utc_now
from cityos_broker.usecases.querybuild import build_filter
from cityos_broker.usecases.support import Support, parse_json, parse_object

Entity = dict[str, Any]


def _not_found(entity_id: str) -> ProblemError:
    return ProblemError("ResourceNotFound", f"entity {entity_id} does not exist")


def _existing(entity_id: str, current: Entity | None) -> Entity:
    if current is None:
        raise _not_found(entity_id)
    return current


class EntityUseCases:
    """One method per entity RPC."""

    def __init__(self, support: Support) -> None:
        self._s = support

    async def create(self, tenant_raw: str, request: pb.CreateEntityRequest) -> pb.CreateEntityResponse:
        doc = parse_object(request.entity, "entity")
        terms = await self._s.request_terms(request.ld, doc)
        entity = parse_entity(doc, terms, utc_now())
        tenant = await self._s.write_tenant(tenant_raw)
        await self._s.store.entities.create(tenant, entity)
        return pb.CreateEntityResponse(id=entity["id"])

    async def retrieve(self, tenant_raw: str, request: pb.RetrieveEntityRequest) -> pb.Document:
        entity_id = validate_entity_id(request.id)
        tenant = await self._s.read_tenant(tenant_raw)
        rendering = await self._s.rendering(request.render)
        stored = await self._s.store.entities.get(tenant, entity_id)
        if stored is None:
            raise _not_found(entity_id)
        if request.type:
            wanted = {rendering.terms.expand(t.strip()) for t in request.type.split(",") if t.strip()}
            if wanted.isdisjoint(stored.entity.get("type") or ()):
                raise _not_found(entity_id)
        if rendering.media_type == pb.MEDIA_TYPE_GEO_JSON:
            body = render_geojson(stored.entity, rendering.terms, rendering.options)
        else:
            body = render_entity(stored.entity, rendering.terms, rendering.options)
        return self._s.document(body, rendering)

    async def query(self, tenant_raw: str, request: pb.QueryEntitiesRequest) -> pb.QueryEntitiesResponse:
        settings = self._s.settings
        limit = request.limit if request.limit_set else settings.default_limit
        if limit < 0 or request.offset < 0:
            raise ProblemError("BadRequestData", "limit and offset must not be negative")
        if limit > settings.max_limit:
            raise ProblemError(
                "TooManyResults", f"limit {limit} exceeds this broker's maximum of {settings.max_limit}"
            )
        if limit == 0 and not request.count:
            raise ProblemError("BadRequestData", "limit=0 is only allowed together with count=true")
        built = await build_filter(self._s, request)
        tenant = await self._s.read_tenant(tenant_raw)
        render = request.render
        if (built.projection and not render.attrs) or (built.lang and not render.lang):
            # A Query body's `attrs` and `lang` also shape the response, as the URL's parameters do.
            render = pb.Render()
            render.CopyFrom(request.render)
            if not render.attrs:
                render.attrs.extend(built.projection)
            render.lang = render.lang or built.lang
        rendering = await self._s.rendering(render)
        entities, total = await self._s.store.entities.query(
            tenant, built.filter, limit=limit, offset=request.offset, count=request.count, exact=built.exact
        )
        if rendering.media_type == pb.MEDIA_TYPE_GEO_JSON:
            body: Any = render_geojson(entities, rendering.terms, rendering.options)
        else:
            body = render_entities(entities, rendering.terms, rendering.options)
        return pb.QueryEntitiesResponse(
            document=self._s.document(body, rendering, each_item=True), count=total or 0
        )

    async def delete(self, tenant_raw: str, request: pb.DeleteEntityRequest) -> pb.DeleteEntityResponse:
        entity_id = validate_entity_id(request.id)
        tenant = await self._s.read_tenant(tenant_raw)
        wanted: set[str] = set()
        if request.type:
            terms = await self._s.link_terms("")
            wanted = {terms.expand(t.strip()) for t in request.type.split(",") if t.strip()}

        def remove(current: Entity | None) -> Entity | None:
            entity = _existing(entity_id, current)
            if wanted and wanted.isdisjoint(entity.get("type") or ()):
                raise _not_found(entity_id)
            return None

        await self._s.store.entities.apply(tenant, entity_id, remove)
        return pb.DeleteEntityResponse()

    async def merge(self, tenant_raw: str, request: pb.EntityFragmentRequest) -> pb.EntityFragmentResponse:
        entity_id = validate_entity_id(request.id)
        doc = parse_object(request.fragment, "entity fragment")
        terms = await self._s.request_terms(request.ld, doc)
        now = utc_now()
        fragment = parse_fragment(doc, terms, now, allow_null=True)
        self._same_id(entity_id, fragment.entity_id)
        tenant = await self._s.read_tenant(tenant_raw)
        await self._s.store.entities.apply(
            tenant, entity_id, lambda cur: ops.merge_entity(_existing(entity_id, cur), fragment, now)
        )
        return pb.EntityFragmentResponse()

    async def replace(self, tenant_raw: str, request: pb.EntityFragmentRequest) -> pb.EntityFragmentResponse:
        entity_id = validate_entity_id(request.id)
        doc = parse_object(request.fragment, "entity")
        terms = await self._s.request_terms(request.ld, doc)
        self._same_id(entity_id, doc.get("id"))
        now = utc_now()
        replacement = parse_entity({**doc, "id": entity_id}, terms, now)
        tenant = await self._s.read_tenant(tenant_raw)
        await self._s.store.entities.apply(
            tenant, entity_id, lambda cur: ops.replace_entity(_existing(entity_id, cur), replacement, now)
        )
        return pb.EntityFragmentResponse()

    async def append_or_update(
        self, tenant_raw: str, request: pb.AttributesRequest, *, append: bool
    ) -> pb.AttributesResponse:
        entity_id = validate_entity_id(request.id)
        doc = parse_object(request.fragment, "attribute fragment")
        terms = await self._s.request_terms(request.ld, doc)
        now = utc_now()
        fragment = parse_fragment(doc, terms, now)
        self._same_id(entity_id, fragment.entity_id)
        tenant = await self._s.read_tenant(tenant_raw)
        report: list[tuple[list[str], list[ops.NotUpdated]]] = []

        def edit(current: Entity | None) -> Entity:
            entity = _existing(entity_id, current)
            if append:
                new, updated, not_updated = ops.append_attributes(
                    entity, fragment, now, no_overwrite=request.no_overwrite
                )
            else:
                new, updated, not_updated = ops.update_attributes(entity, fragment, now)
            report[:] = [(updated, not_updated)]  # a retried round replaces the earlier report
            return new

        await self._s.store.entities.apply(tenant, entity_id, edit)
        updated, not_updated = report[0]
        return pb.AttributesResponse(
            updated=[terms.compact(iri) for iri in updated],
            not_updated=[
                pb.NotUpdatedDetails(attribute_name=terms.compact(iri), reason=reason)
                for iri, reason in not_updated
            ],
        )

    async def attribute(
        self, tenant_raw: str, request: pb.AttributeRequest, *, partial: bool
    ) -> pb.AttributeResponse:
        entity_id = validate_entity_id(request.id)
        if not request.attribute:
            raise ProblemError("BadRequestData", "the attribute name is missing")
        doc = parse_json(request.fragment, "attribute")
        terms = await self._s.request_terms(request.ld, doc)
        now = utc_now()
        iri, instances = parse_attribute(
            request.attribute, doc, terms, now, allow_null=partial, partial=partial
        )
        edit = ops.partial_update_attribute if partial else ops.replace_attribute
        tenant = await self._s.read_tenant(tenant_raw)
        await self._s.store.entities.apply(
            tenant, entity_id, lambda cur: edit(_existing(entity_id, cur), iri, instances, now)
        )
        return pb.AttributeResponse()

    async def delete_attribute(
        self, tenant_raw: str, request: pb.DeleteAttributeRequest
    ) -> pb.DeleteAttributeResponse:
        entity_id = validate_entity_id(request.id)
        if not request.attribute:
            raise ProblemError("BadRequestData", "the attribute name is missing")
        terms = await self._s.link_terms(request.ld.link_context)
        iri = terms.expand(request.attribute)
        now = utc_now()
        tenant = await self._s.read_tenant(tenant_raw)
        await self._s.store.entities.apply(
            tenant,
            entity_id,
            lambda cur: ops.delete_attribute(
                _existing(entity_id, cur),
                iri,
                now,
                dataset_id=request.dataset_id or None,
                delete_all=request.delete_all,
            ),
        )
        return pb.DeleteAttributeResponse()

    @staticmethod
    def _same_id(entity_id: str, body_id: object) -> None:
        if body_id is not None and body_id != entity_id:
            raise ProblemError(
                "BadRequestData", f"the body's id {body_id!r} differs from the entity id {entity_id}"
            )
