"""JSON-LD @context handling: compiled term maps, the bundled core context and the user-context resolver."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Any, Protocol

import httpx

CORE_CONTEXT_URL = "https://uri.etsi.org/ngsi-ld/v1/ngsi-ld-core-context-v1.9.jsonld"
NGSILD_PREFIX = "https://uri.etsi.org/ngsi-ld/"
DEFAULT_CONTEXT_VOCAB = "https://uri.etsi.org/ngsi-ld/default-context/"
JSONLD_CONTEXT_REL = "http://www.w3.org/ns/json-ld#context"


@dataclass(frozen=True, slots=True)
class TermDefinition:
    """One compiled term: its IRI (or keyword) and optional @type coercion / @container."""

    iri: str
    type_mapping: str | None = None
    container: str | None = None


class TermMap:
    """Term <-> IRI maps compiled once from an @context (user contexts first, the core context last)."""

    def __init__(self, definitions: dict[str, TermDefinition], vocab: str, context_value: object) -> None:
        raise NotImplementedError

    @classmethod
    def compile(cls, contexts: list[dict[str, Any]], context_value: object = None) -> TermMap:
        """Compile resolved local contexts (dicts, in order) plus the core context into a term map."""
        raise NotImplementedError

    @property
    def context_value(self) -> object:
        """What a response's @context member holds: caller's context (URL, list, object) or core URL."""
        raise NotImplementedError

    @property
    def link_url(self) -> str:
        """The URL for a response Link header: the caller's single context URL, else the core URL."""
        raise NotImplementedError

    def definition(self, term: str) -> TermDefinition | None:
        """The compiled definition of a term, if any."""
        raise NotImplementedError

    def expand(self, term: str) -> str:
        """Expand an attribute or type name to its IRI (absolute IRIs and keywords pass through)."""
        raise NotImplementedError

    def expand_vocab(self, value: str) -> str:
        """Expand a vocabulary value (entity type, VocabProperty value, objectType) to an IRI."""
        raise NotImplementedError

    def compact(self, iri: str) -> str:
        """Compact an IRI: shortest term, else default-context name, else compact IRI, else the IRI."""
        raise NotImplementedError

    def compact_vocab(self, iri: str) -> str:
        """Compact a vocabulary IRI (types, VocabProperty values); same rules as `compact`."""
        raise NotImplementedError


def is_core_context_url(url: str) -> bool:
    """True for any URL naming an NGSI-LD core context (served from the bundled copy, never fetched)."""
    raise NotImplementedError


def core_context() -> dict[str, Any]:
    """The bundled NGSI-LD v1.9 core context's @context object."""
    raise NotImplementedError


def core_term_map() -> TermMap:
    """The term map of the core context alone (requests without a user context)."""
    raise NotImplementedError


def parse_link_header(value: str | None) -> str | None:
    """The target URL of a Link header with rel="http://www.w3.org/ns/json-ld#context", if any."""
    raise NotImplementedError


def context_for_request(
    content_type: str | None, link_context: str | None, body: object
) -> tuple[str | None, object | None]:
    """Check the @context rules of a request and return (Link context URL, body @context).

    application/ld+json: the body (each item of a list) must carry @context and no Link context may be
    given; application/json and application/merge-patch+json: no @context in the body. For a list body
    the body context returned is None: callers take each item's own @context.
    Raises ProblemError BadRequestData when the rules are broken.
    """
    raise NotImplementedError


class HostedContexts(Protocol):
    """Contexts stored by the broker itself (/ngsi-ld/v1/jsonldContexts), implemented by the store."""

    async def get(self, context_id: str) -> dict[str, Any] | None:
        """The stored context document (with its @context member), or None when unknown."""
        ...


UrlGuard = Callable[[str], Awaitable[None]]


@dataclass(slots=True)
class CachedContext:
    """Cache metadata of one fetched remote context (listed by GET /jsonldContexts)."""

    url: str
    document: dict[str, Any]
    fetched_at: str
    last_used: str
    hits: int = 0
    kind: str = "cached"
    expires: float = 0.0


class ContextResolver:
    """Resolve a request's @context to a TermMap: core built in, hosted via the store, remote fetched once."""

    def __init__(
        self,
        *,
        http: httpx.AsyncClient | None = None,
        hosted: HostedContexts | None = None,
        fetch_timeout: float = 3.0,
        max_bytes: int = 1_048_576,
        allow_private: bool = False,
        cache_size: int = 256,
        ttl_seconds: float = 3600.0,
        max_depth: int = 8,
        url_guard: UrlGuard | None = None,
    ) -> None:
        raise NotImplementedError

    async def term_map_for(
        self, link_context: str | None, body_context: object | None, *, hosted: HostedContexts | None = None
    ) -> TermMap:
        """The compiled TermMap for a request (Link URL and/or body @context); core alone when both None.

        Raises ProblemError LdContextNotAvailable (503) when a context cannot be fetched or is invalid.
        `hosted` overrides the constructor's hosted-context source (e.g. a tenant-bound store view).
        """
        raise NotImplementedError

    def cached_entries(self) -> list[CachedContext]:
        """Metadata of every cached remote context, most recently used first."""
        raise NotImplementedError

    def evict(self, url: str) -> bool:
        """Drop a cached context (and compiled maps that may depend on it); True if it was cached."""
        raise NotImplementedError

    async def aclose(self) -> None:
        """Close the HTTP client if this resolver created it."""
        raise NotImplementedError
