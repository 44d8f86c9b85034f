"""Batch entity operations: per-entity outcomes, one read pipeline and one script pipeline per round."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from cityos.broker.v1 import broker_pb2 as pb
from cityos_runtime.problems import ProblemError

from cityos_broker.ngsild import operations as ops
from cityos_broker.ngsild.contexts import TermMap
from cityos_broker.ngsild.entity import Fragment, parse_entity, parse_fragment, validate_entity_id
from cityos_broker.store import Applied, Mutation, utc_now
from cityos_broker.usecases.support import Support, parse_json

Entity = dict[str, Any]
MAX_BATCH = 10_000


def _error(entity_id: str, problem: ProblemError) -> pb.BatchEntityError:
    return pb.BatchEntityError(entity_id=entity_id, problem=problem.to_json())


def _item_id(item: object) -> str:
    if isinstance(item, dict) and isinstance(item.get("id"), str):
        return str(item["id"])
    return item if isinstance(item, str) else ""


def _missing(entity_id: str) -> ProblemError:
    return ProblemError("ResourceNotFound", f"entity {entity_id} does not exist")


class BatchUseCases:
    """POST /entityOperations/{create,upsert,update,delete,merge}."""

    def __init__(self, support: Support) -> None:
        self._s = support

    async def run(self, tenant_raw: str, request: pb.BatchRequest) -> pb.BatchResponse:
        items = parse_json(request.entities, "batch body")
        if not isinstance(items, list) or not items:
            raise ProblemError("BadRequestData", "a batch body must be a non-empty JSON array")
        if len(items) > MAX_BATCH:
            raise ProblemError("BadRequestData", f"a batch holds at most {MAX_BATCH} entities")
        operation = request.operation
        if operation == pb.BATCH_OPERATION_DELETE:
            return await self._delete(tenant_raw, items)
        if operation not in (
            pb.BATCH_OPERATION_CREATE,
            pb.BATCH_OPERATION_UPSERT,
            pb.BATCH_OPERATION_UPDATE,
            pb.BATCH_OPERATION_MERGE,
        ):
            raise ProblemError("BadRequestData", "unknown batch operation")
        response = pb.BatchResponse()
        terms = await self._s.item_terms(request.ld, items)
        now = utc_now()
        parsed: list[tuple[str, Any]] = []
        for item, term_map in zip(items, terms, strict=True):
            entity_id = _item_id(item)
            try:
                if isinstance(term_map, ProblemError):
                    raise term_map
                parsed.append((entity_id, self._parse(operation, item, term_map, now)))
            except ProblemError as problem:
                response.errors.append(_error(entity_id, problem))
        if not parsed:
            return response
        tenant = await self._s.write_tenant(tenant_raw)
        if operation == pb.BATCH_OPERATION_CREATE:
            outcomes = await self._s.store.entities.create_many(tenant, [e for _, e in parsed])
            for (entity_id, _), refused in zip(parsed, outcomes, strict=True):
                if refused is None:
                    response.success.append(entity_id)
                else:
                    response.errors.append(_error(entity_id, refused))
            return response
        mutations = [(entity_id, self._mutation(request, value, now)) for entity_id, value in parsed]
        self._collect(response, mutations, await self._s.store.entities.apply_many(tenant, mutations))
        return response

    @staticmethod
    def _parse(operation: int, item: object, terms: TermMap, now: str) -> Any:
        if not isinstance(item, dict):
            raise ProblemError("BadRequestData", "every batch item must be a JSON object")
        if operation in (pb.BATCH_OPERATION_CREATE, pb.BATCH_OPERATION_UPSERT):
            return parse_entity(item, terms, now)
        entity_id = validate_entity_id(item.get("id"))
        fragment = parse_fragment(item, terms, now, allow_null=operation == pb.BATCH_OPERATION_MERGE)
        fragment.entity_id = entity_id
        return fragment

    @staticmethod
    def _mutation(request: pb.BatchRequest, value: Any, now: str) -> Mutation:
        operation = request.operation
        if operation == pb.BATCH_OPERATION_UPSERT:
            entity: Entity = value

            def upsert(current: Entity | None) -> Entity:
                if current is None:
                    return entity
                if request.replace:
                    return ops.replace_entity(current, entity, now)
                fragment = Fragment(attrs=entity["attrs"], entity_id=entity["id"], types=entity["type"])
                if entity.get("scope"):
                    fragment.scope = entity["scope"]
                return ops.append_attributes(current, fragment, now)[0]

            return upsert
        fragment: Fragment = value
        entity_id = str(fragment.entity_id)
        edit: Callable[[Entity], Entity]
        if operation == pb.BATCH_OPERATION_MERGE:

            def edit(current: Entity) -> Entity:
                return ops.merge_entity(current, fragment, now)
        else:

            def edit(current: Entity) -> Entity:
                new, _, _ = ops.append_attributes(current, fragment, now, no_overwrite=request.no_overwrite)
                return new

        def existing(current: Entity | None) -> Entity:
            if current is None:
                raise _missing(entity_id)
            return edit(current)

        return existing

    async def _delete(self, tenant_raw: str, items: list[Any]) -> pb.BatchResponse:
        response = pb.BatchResponse()
        ids: list[str] = []
        for item in items:
            try:
                ids.append(validate_entity_id(item))
            except ProblemError as problem:
                response.errors.append(_error(item if isinstance(item, str) else "", problem))
        if not ids:
            return response
        tenant = await self._s.read_tenant(tenant_raw)

        def remove(current: Entity | None) -> None:
            return None

        mutations: list[tuple[str, Mutation]] = [(entity_id, remove) for entity_id in ids]
        self._collect(response, mutations, await self._s.store.entities.apply_many(tenant, mutations))
        return response

    @staticmethod
    def _collect(
        response: pb.BatchResponse,
        mutations: list[tuple[str, Mutation]],
        outcomes: list[Applied | ProblemError],
    ) -> None:
        for (entity_id, _), outcome in zip(mutations, outcomes, strict=True):
            if isinstance(outcome, ProblemError):
                response.errors.append(_error(entity_id, outcome))
            else:
                response.success.append(entity_id)
                if outcome.created:
                    response.created.append(entity_id)
