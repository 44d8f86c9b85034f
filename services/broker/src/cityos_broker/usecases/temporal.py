"""Temporal API use cases (/temporal/entities): create, append, retrieve, query, delete entity / attribute."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from cityos.broker.v1 import broker_pb2 as pb
from cityos_runtime.problems import ProblemError

from cityos_broker.ngsild.entity import validate_entity_id
from cityos_broker.store import utc_now
from cityos_broker.temporal.blobs import HistoryArchive, object_prefix
from cityos_broker.temporal.changes import Instance
from cityos_broker.temporal.params import parse_temporal_query
from cityos_broker.temporal.parse import temporal_write
from cityos_broker.temporal.reader import HistoryReader
from cityos_broker.temporal.render import render_temporal
from cityos_broker.temporal.store import HistoryStore
from cityos_broker.usecases.querybuild import build_filter
from cityos_broker.usecases.support import Rendering, Support, parse_json, parse_object

_TEMPORAL_Q = ("timerel", "timeAt", "endTimeAt", "timeproperty", "lastN", "aggrMethods", "aggrPeriodDuration")


def _not_found(entity_id: str) -> ProblemError:
    return ProblemError("ResourceNotFound", f"temporal entity {entity_id} does not exist")


def _params(request: pb.ResourceRequest) -> dict[str, str]:
    """The request's temporal parameters; a POST query body's temporalQ fills in what the URL lacks."""
    params = dict(request.params)
    if request.body:
        body = parse_json(request.body, "query")
        temporal_q = body.get("temporalQ") if isinstance(body, dict) else None
        if isinstance(temporal_q, dict):
            for name in _TEMPORAL_Q:
                value = temporal_q.get(name)
                if value is not None and name not in params:
                    params[name] = ",".join(map(str, value)) if isinstance(value, list) else str(value)
    return params


class TemporalUseCases:
    """One method per temporal RPC, over the history store and (optionally) the S3 archive."""

    def __init__(
        self, support: Support, history: HistoryStore, archive: HistoryArchive | None, max_instances: int
    ) -> None:
        self._s = support
        self._history = history
        self._archive = archive
        self._reader = HistoryReader(history, archive, max_instances)

    async def create(self, tenant_raw: str, request: pb.ResourceRequest) -> pb.ResourceResponse:
        """201 (id set) for a new temporal entity, 204 (no id) when the instances join an existing one."""
        doc = parse_object(request.body, "temporal entity")
        terms = await self._s.request_terms(request.ld, doc)
        write = temporal_write(doc, terms, utc_now(), need_type=True)
        tenant = await self._s.write_tenant(tenant_raw)
        existed = await self._history.exists(tenant, write.entity_id)
        await self._history.record(tenant, [write])
        return pb.ResourceResponse(id="" if existed else write.entity_id)

    async def append(self, tenant_raw: str, request: pb.ResourceRequest) -> pb.ResourceResponse:
        entity_id = validate_entity_id(request.id)
        doc = parse_object(request.body, "attributes")
        terms = await self._s.request_terms(request.ld, doc)
        write = temporal_write(doc, terms, utc_now(), entity_id=entity_id, need_type=False)
        tenant = await self._s.read_tenant(tenant_raw)
        if not await self._history.exists(tenant, entity_id):
            raise _not_found(entity_id)
        await self._history.record(tenant, [write])
        return pb.ResourceResponse()

    async def retrieve(self, tenant_raw: str, request: pb.ResourceRequest) -> pb.ResourceResponse:
        entity_id = validate_entity_id(request.id)
        query = parse_temporal_query(request.params)
        tenant = await self._s.read_tenant(tenant_raw)
        rendering = await self._s.rendering(request.render)
        [state] = await self._history.states(tenant, [entity_id])
        if state is None:
            raise _not_found(entity_id)
        entities = await self._attributes(tenant, [entity_id], rendering)
        read = await self._reader.read(tenant, entities, query)
        body = render_temporal(state, read.points[0], rendering.terms, rendering.options, query)
        return pb.ResourceResponse(
            document=self._s.document(body, rendering), content_range=read.cut.content_range()
        )

    async def query(self, tenant_raw: str, request: pb.ResourceRequest) -> pb.ResourceResponse:
        settings = self._s.settings
        query = parse_temporal_query(_params(request))
        limit = request.limit or settings.default_limit
        if limit > settings.max_limit:
            raise ProblemError(
                "TooManyResults", f"limit {limit} exceeds this broker's maximum of {settings.max_limit}"
            )
        built = await build_filter(
            self._s,
            pb.QueryEntitiesRequest(
                query=request.query, query_body=request.body, ld=request.ld, render=request.render
            ),
        )
        tenant = await self._s.read_tenant(tenant_raw)
        rendering = await self._s.rendering(request.render)
        plan = built.filter.plan()
        types = None if plan.type_dnf is None else {t for conj in plan.type_dnf for t in conj}
        candidates = await self._history.candidate_ids(tenant, plan.ids, types)
        matched: list[dict[str, Any]] = []
        for state in await self._history.states(tenant, candidates):
            if state is not None and built.filter.matches(state):
                matched.append(state)
        page = matched[request.offset : request.offset + limit]
        entities = await self._attributes(tenant, [s["id"] for s in page], rendering)
        read = await self._reader.read(tenant, entities, query)
        body = [
            render_temporal(state, points, rendering.terms, rendering.options, query)
            for state, points in zip(page, read.points, strict=True)
        ]
        return pb.ResourceResponse(
            document=self._s.document(body, rendering, each_item=True),
            count=len(matched),
            content_range=read.cut.content_range(),
        )

    async def delete(self, tenant_raw: str, request: pb.ResourceRequest) -> pb.ResourceResponse:
        entity_id = validate_entity_id(request.id)
        tenant = await self._s.read_tenant(tenant_raw)
        if not await self._history.exists(tenant, entity_id):
            raise _not_found(entity_id)
        await self._history.delete_entity(tenant, entity_id)
        if self._archive is not None:
            await self._archive.delete_prefix(object_prefix(tenant, entity_id))
        return pb.ResourceResponse()

    async def delete_attribute(self, tenant_raw: str, request: pb.ResourceRequest) -> pb.ResourceResponse:
        """Delete one instance (instanceId), or the instances of one datasetId, default or all datasets."""
        entity_id = validate_entity_id(request.id)
        if not request.attribute:
            raise ProblemError("BadRequestData", "the attribute to delete is missing")
        tenant = await self._s.read_tenant(tenant_raw)
        iri = (await self._s.link_terms(request.ld.link_context)).expand(request.attribute)
        if iri not in await self._history.attributes(tenant, entity_id):
            raise ProblemError(
                "ResourceNotFound",
                f"temporal entity {entity_id} has no history of attribute {request.attribute}",
            )
        delete_all = request.params.get("deleteAll", "false").lower() == "true"
        dataset = request.render.dataset_id or request.params.get("datasetId", "")
        if request.instance_id:
            wanted = request.instance_id
            removed = await self._remove(tenant, entity_id, iri, lambda i: i.get("instanceId") == wanted)
            if not removed:
                raise ProblemError("ResourceNotFound", f"attribute instance {wanted} does not exist")
        elif delete_all:
            await self._history.delete_attribute(tenant, entity_id, iri)
            if self._archive is not None:
                await self._archive.delete_prefix(object_prefix(tenant, entity_id, iri))
        else:
            target = dataset or None
            await self._remove(tenant, entity_id, iri, lambda i: i.get("datasetId") == target)
        return pb.ResourceResponse()

    async def _remove(self, tenant: str, entity_id: str, iri: str, drop: Callable[[Instance], bool]) -> int:
        """Remove matching instances from Redis and rewrite the archived days that held any."""
        removed = await self._history.remove_instances(tenant, entity_id, iri, drop)
        if self._archive is None:
            return removed
        for day in sorted(await self._history.archived_days(tenant, entity_id, iri)):
            points = await self._archive.get_day(tenant, entity_id, iri, day)
            kept = [(at, i) for at, i in points if not drop(i)]
            if len(kept) == len(points):
                continue
            removed += len(points) - len(kept)
            if kept:
                await self._archive.put_day(tenant, entity_id, iri, day, kept)
            else:
                await self._archive.delete_day(tenant, entity_id, iri, day)
                await self._history.unmark_archived(tenant, entity_id, iri, day)
        return removed

    async def _attributes(
        self, tenant: str, entity_ids: list[str], rendering: Rendering
    ) -> list[tuple[str, list[str]]]:
        """Per entity, the attributes with history to read, narrowed by the attrs projection."""
        wanted = rendering.options.attrs
        found = await self._history.attributes_many(tenant, entity_ids)
        return [
            (entity_id, sorted(attrs if wanted is None else attrs & wanted))
            for entity_id, attrs in zip(entity_ids, found, strict=True)
        ]
