"""What every use case shares: tenants, request term maps, JSON bodies, rendering and response documents."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import orjson
from cityos.broker.v1 import broker_pb2 as pb
from cityos_runtime.problems import ProblemError

from cityos_broker.config import BrokerSettings
from cityos_broker.ngsild.contexts import ContextResolver, TermMap, context_for_request
from cityos_broker.ngsild.render import Format, RenderOptions, expand_names, with_context
from cityos_broker.store import Store, validate_tenant

_FORMATS: dict[int, Format] = {
    pb.FORMAT_UNSPECIFIED: "normalized",
    pb.FORMAT_NORMALIZED: "normalized",
    pb.FORMAT_CONCISE: "concise",
    pb.FORMAT_KEY_VALUES: "keyValues",
}
JSON = "application/json"
JSON_LD = "application/ld+json"
GEO_JSON = "application/geo+json"


def parse_json(raw: bytes, what: str) -> Any:
    """Decode a request body; ProblemError InvalidRequest when it is not JSON."""
    if not raw:
        raise ProblemError("InvalidRequest", f"the {what} is empty")
    try:
        return orjson.loads(raw)
    except orjson.JSONDecodeError as error:
        raise ProblemError("InvalidRequest", f"the {what} is not valid JSON: {error}") from None


def parse_object(raw: bytes, what: str) -> dict[str, Any]:
    """Decode a request body that must be a JSON object."""
    doc = parse_json(raw, what)
    if not isinstance(doc, dict):
        raise ProblemError("BadRequestData", f"the {what} must be a JSON object")
    return doc


@dataclass(frozen=True, slots=True)
class Rendering:
    """A response's term map, render options and media type, resolved once per request."""

    terms: TermMap
    options: RenderOptions
    media_type: int


class Support:
    """Shared services of the use cases."""

    def __init__(self, settings: BrokerSettings, store: Store, resolver: ContextResolver) -> None:
        self.settings = settings
        self.store = store
        self.resolver = resolver

    # Tenants ---------------------------------------------------------------------------------------------

    def tenant_name(self, raw: str) -> str:
        """The tenant a call addresses: "" is the deployment default; names are re-validated."""
        return validate_tenant(raw or self.settings.default_tenant)

    async def read_tenant(self, raw: str) -> str:
        """The tenant of a read; ProblemError NonexistentTenant when the broker does not know it."""
        tenant = self.tenant_name(raw)
        if tenant != self.settings.default_tenant and not await self.store.tenants.exists(tenant):
            raise ProblemError("NonexistentTenant", f"tenant {tenant!r} does not exist")
        return tenant

    async def write_tenant(self, raw: str) -> str:
        """The tenant of a write, created on first use when BROKER_AUTO_CREATE_TENANTS allows it."""
        tenant = self.tenant_name(raw)
        if await self.store.tenants.exists(tenant):
            return tenant
        if tenant == self.settings.default_tenant or self.settings.auto_create_tenants:
            await self.store.tenants.ensure(tenant)
            return tenant
        raise ProblemError("NonexistentTenant", f"tenant {tenant!r} does not exist")

    # Term maps -------------------------------------------------------------------------------------------

    async def request_terms(self, ld: pb.LdRequest, body: object) -> TermMap:
        """The term map of a request body (its own @context, or the Link header's)."""
        link, body_context = context_for_request(ld.content_type or JSON, ld.link_context or None, body)
        return await self.resolver.term_map_for(link, body_context, hosted=self.store.contexts)

    async def link_terms(self, link_context: str) -> TermMap:
        """The term map of a Link header context (core alone when empty)."""
        return await self.resolver.term_map_for(link_context or None, None, hosted=self.store.contexts)

    async def item_terms(self, ld: pb.LdRequest, items: list[Any]) -> list[TermMap | ProblemError]:
        """Term maps of a batch: each item's own @context (ld+json) or the shared Link context."""
        link, _ = context_for_request(ld.content_type or JSON, ld.link_context or None, items)
        if (ld.content_type or JSON).split(";", 1)[0].strip().lower() != JSON_LD:
            shared = await self.resolver.term_map_for(link, None, hosted=self.store.contexts)
            return [shared] * len(items)
        maps: list[TermMap | ProblemError] = []
        for item in items:
            try:
                maps.append(
                    await self.resolver.term_map_for(None, item["@context"], hosted=self.store.contexts)
                )
            except ProblemError as problem:
                maps.append(problem)
        return maps

    # Rendering -------------------------------------------------------------------------------------------

    async def rendering(self, render: pb.Render) -> Rendering:
        """Resolve the response context and options of a Render message."""
        terms = await self.link_terms(render.link_context)
        options = RenderOptions(
            format=_FORMATS.get(render.format, "normalized"),
            sys_attrs=render.sys_attrs,
            attrs=expand_names(list(render.attrs) or None, terms),
            pick=expand_names(list(render.pick) or None, terms),
            omit=expand_names(list(render.omit) or None, terms),
            lang=render.lang or None,
            geometry_property=terms.expand(render.geometry_property or "location"),
            dataset_id=frozenset(d.strip() for d in render.dataset_id.split(",") if d.strip())
            if render.dataset_id
            else None,
        )
        return Rendering(terms, options, render.media_type)

    @staticmethod
    def document(body: Any, rendering: Rendering, *, each_item: bool = False) -> pb.Document:
        """A response document in the requested media type (JSON-LD carries @context, JSON a Link)."""
        terms = rendering.terms
        if rendering.media_type == pb.MEDIA_TYPE_JSON_LD:
            if isinstance(body, list) and each_item:
                body = [with_context(item, terms) for item in body]
            elif isinstance(body, dict):
                body = with_context(body, terms)
            return pb.Document(body=orjson.dumps(body), content_type=JSON_LD)
        content_type = GEO_JSON if rendering.media_type == pb.MEDIA_TYPE_GEO_JSON else JSON
        return pb.Document(body=orjson.dumps(body), content_type=content_type, link_context=terms.link_url)
