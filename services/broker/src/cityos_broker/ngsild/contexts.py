"""Request @context rules and the resolver: core built in, hosted via the store, remote fetched once."""

from __future__ import annotations

import fnmatch
import hashlib
import re
import time
from collections import OrderedDict
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any, Protocol
from urllib.parse import unquote, urlsplit

import httpx
import orjson
from cityos_runtime.problems import ProblemError

from cityos_broker.ngsild.fetch import ContextFetcher, UrlGuard, runtime_guard, unavailable
from cityos_broker.ngsild.terms import (
    CORE_CONTEXT_URL,
    DEFAULT_CONTEXT_VOCAB,
    NGSILD_PREFIX,
    TermDefinition,
    TermMap,
    core_context,
    core_local_context,
    core_term_map,
)

__all__ = [
    "CORE_CONTEXT_URL",
    "DEFAULT_CONTEXT_VOCAB",
    "JSONLD_CONTEXT_REL",
    "NGSILD_PREFIX",
    "CachedContext",
    "ContextResolver",
    "HostedContexts",
    "TermDefinition",
    "TermMap",
    "UrlGuard",
    "context_for_request",
    "core_context",
    "core_term_map",
    "is_core_context_url",
    "parse_link_header",
]

JSONLD_CONTEXT_REL = "http://www.w3.org/ns/json-ld#context"
_CORE_GLOB = "ngsi-ld-core-context*.jsonld"
_HOSTED_PATH = re.compile(r"/ngsi-ld/v1/jsonldContexts/([^/?#]+)$")
_MAX_FETCHES_PER_REQUEST = 16
_JSON_TYPES = frozenset({"application/json", "application/merge-patch+json", ""})


def is_core_context_url(url: str) -> bool:
    """True for any URL naming an NGSI-LD core context (served from the bundled copy, never fetched)."""
    if url == CORE_CONTEXT_URL:
        return True
    if "/" not in url:
        # Orion-LD's short forms: the bare file name, with or without a version.
        return fnmatch.fnmatchcase(url, _CORE_GLOB)
    try:
        parts = urlsplit(url)
    except ValueError:
        return False
    host = (parts.hostname or "").lower()
    if parts.scheme not in ("http", "https") or not (
        host == "uri.etsi.org" or host.endswith(".uri.etsi.org")
    ):
        return False
    last = parts.path.rsplit("/", 1)[-1]
    return fnmatch.fnmatchcase(last, _CORE_GLOB) or fnmatch.fnmatchcase(last + ".jsonld", _CORE_GLOB)


def parse_link_header(value: str | None) -> str | None:
    """The target URL of a Link header with rel="http://www.w3.org/ns/json-ld#context", if any."""
    if not value:
        return None
    for link in value.split(","):
        target, _, params = link.strip().partition(";")
        target = target.strip()
        if not (target.startswith("<") and target.endswith(">")):
            continue
        for param in params.split(";"):
            name, _, raw = param.strip().partition("=")
            if name.strip().lower() == "rel" and JSONLD_CONTEXT_REL in raw.strip().strip('"').split():
                return target[1:-1].strip()
    return None


def context_for_request(
    content_type: str | None, link_context: str | None, body: object
) -> tuple[str | None, object | None]:
    """Check the @context rules of a request and return (Link context URL, body @context).

    application/ld+json: the body (each item of a list) must carry @context and no Link context may be
    given; application/json and application/merge-patch+json: no @context in the body. For a list body
    the body context returned is None: callers take each item's own @context.
    Raises ProblemError BadRequestData when the rules are broken.
    """
    media = (content_type or "").split(";", 1)[0].strip().lower()
    items = body if isinstance(body, list) else [body]
    if media == "application/ld+json":
        if link_context:
            raise ProblemError(
                "BadRequestData",
                "a Link header @context is not allowed with Content-Type application/ld+json",
            )
        contexts: list[object] = []
        for item in items:
            if not isinstance(item, dict) or "@context" not in item:
                raise ProblemError(
                    "BadRequestData",
                    "a body of Content-Type application/ld+json must carry an @context member",
                )
            contexts.append(item["@context"])
        return None, None if isinstance(body, list) else contexts[0]
    if media not in _JSON_TYPES:
        raise ProblemError("UnsupportedMediaType", f"unsupported Content-Type {media!r}", status=415)
    for item in items:
        if isinstance(item, dict) and "@context" in item:
            raise ProblemError(
                "BadRequestData",
                "@context in the body requires Content-Type application/ld+json; use a Link header instead",
            )
    return link_context or None, None


class HostedContexts(Protocol):
    """Contexts stored by the broker itself (/ngsi-ld/v1/jsonldContexts), implemented by the store."""

    async def get(self, context_id: str) -> dict[str, Any] | None:
        """The stored context document (with its @context member), or None when unknown."""
        ...


@dataclass(slots=True)
class CachedContext:
    """Cache metadata of one fetched remote context (listed by GET /jsonldContexts)."""

    url: str
    document: dict[str, Any]
    fetched_at: str
    last_used: str
    hits: int = 0
    kind: str = "cached"
    expires: float = 0.0  # time.monotonic() deadline of the entry


@dataclass(slots=True)
class _Resolution:
    """Bookkeeping of one term_map_for call."""

    hosted: HostedContexts | None
    uses_hosted: bool = False
    fetches: int = 0
    expires: float = float("inf")
    seen: set[str] = field(default_factory=set)


def _utc_now() -> str:
    return datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%S.%fZ")


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
        self._fetcher = ContextFetcher(
            http=http,
            timeout=fetch_timeout,
            max_bytes=max_bytes,
            url_guard=url_guard if url_guard is not None else runtime_guard(allow_private),
        )
        self._hosted = hosted
        self._cache_size = cache_size
        self._max_bytes = max_bytes
        self._ttl = ttl_seconds
        self._max_depth = max_depth
        self._core = core_term_map()
        self._docs: OrderedDict[str, CachedContext] = OrderedDict()
        self._maps: OrderedDict[bytes, tuple[float, TermMap]] = OrderedDict()

    @property
    def core(self) -> TermMap:
        """The core-only term map (no user context)."""
        return self._core

    async def term_map_for(
        self, link_context: str | None, body_context: object | None, *, hosted: HostedContexts | None = None
    ) -> TermMap:
        """The compiled TermMap for a request (Link URL and/or body @context); core alone when both None.

        Raises ProblemError LdContextNotAvailable (503) when a context cannot be fetched or is invalid.
        `hosted` overrides the constructor's hosted-context source (e.g. a tenant-bound store view).
        """
        if body_context is None and (not link_context or is_core_context_url(link_context)):
            return self._core
        canonical = orjson.dumps([link_context, body_context], option=orjson.OPT_SORT_KEYS)
        key = hashlib.blake2b(canonical, digest_size=20).digest()
        now = time.monotonic()
        cached = self._maps.get(key)
        if cached is not None and cached[0] > now:
            self._maps.move_to_end(key)
            if isinstance(link_context, str):
                self._touch(link_context)
            return cached[1]
        state = _Resolution(hosted if hosted is not None else self._hosted)
        locals_: list[dict[str, Any]] = []
        if link_context:
            await self._collect(link_context, locals_, 0, state)
        if body_context is not None:
            await self._collect(body_context, locals_, 0, state)
        value: object = body_context if body_context is not None else link_context
        term_map = TermMap.compile(locals_, value)
        # A hosted context belongs to a tenant and may be deleted: never share its compiled map. Huge inline
        # contexts are not kept either, so the cache's memory stays bounded by cache_size x max_bytes.
        if not state.uses_hosted and len(canonical) <= self._max_bytes:
            self._maps[key] = (min(state.expires, now + self._ttl), term_map)
            while len(self._maps) > self._cache_size:
                self._maps.popitem(last=False)
        return term_map

    def cached_entries(self) -> list[CachedContext]:
        """Metadata of every cached remote context, most recently used first."""
        return list(reversed(self._docs.values()))

    def evict(self, url: str) -> bool:
        """Drop a cached context (and compiled maps that may depend on it); True if it was cached."""
        found = self._docs.pop(url, None) is not None
        # Compiled maps do not record which documents they used; clearing them all is cheap and correct.
        self._maps.clear()
        return found

    async def aclose(self) -> None:
        """Close the HTTP client if this resolver created it."""
        await self._fetcher.aclose()

    def _touch(self, url: str) -> None:
        entry = self._docs.get(url)
        if entry is not None:
            entry.hits += 1
            entry.last_used = _utc_now()
            self._docs.move_to_end(url)

    async def _collect(self, ctx: object, out: list[dict[str, Any]], depth: int, state: _Resolution) -> None:
        """Flatten a (possibly nested, possibly remote) @context into local context objects, in order."""
        if depth > self._max_depth:
            raise ProblemError(
                "LdContextNotAvailable", f"@context nesting deeper than {self._max_depth} levels", status=503
            )
        if isinstance(ctx, str):
            if is_core_context_url(ctx):
                out.append(core_local_context())
                return
            if ctx in state.seen:
                return  # a context included twice (or a cycle) adds nothing the second time
            state.seen.add(ctx)
            await self._collect(await self._remote(ctx, state), out, depth + 1, state)
        elif isinstance(ctx, list):
            for item in ctx:
                await self._collect(item, out, depth, state)
        elif isinstance(ctx, dict):
            out.append(ctx)
        elif ctx is not None:
            raise ProblemError("BadRequestData", "an @context must be a URL, an object or a list of them")

    async def _remote(self, url: str, state: _Resolution) -> object:
        """The @context value of a hosted or remote context document."""
        try:
            parts = urlsplit(url)
        except ValueError:
            raise ProblemError("BadRequestData", f"invalid @context URL {url!r}") from None
        if parts.scheme not in ("http", "https") or not parts.hostname:
            raise ProblemError("BadRequestData", f"@context URL {url!r} is not an absolute http(s) URL")
        hosted_match = _HOSTED_PATH.search(parts.path)
        if hosted_match is not None:
            return await self._hosted_context(url, unquote(hosted_match.group(1)), state)
        now = time.monotonic()
        entry = self._docs.get(url)
        if entry is None or entry.expires <= now:
            state.fetches += 1
            if state.fetches > _MAX_FETCHES_PER_REQUEST:
                raise unavailable(url, f"more than {_MAX_FETCHES_PER_REQUEST} remote contexts in one request")
            document = await self._fetcher.fetch(url)
            stamp = _utc_now()
            entry = CachedContext(url, document, stamp, stamp, expires=now + self._ttl)
            self._docs[url] = entry
            while len(self._docs) > self._cache_size:
                self._docs.popitem(last=False)
        else:
            entry.hits += 1
            entry.last_used = _utc_now()
            self._docs.move_to_end(url)
        state.expires = min(state.expires, entry.expires)
        return entry.document["@context"]

    async def _hosted_context(self, url: str, context_id: str, state: _Resolution) -> object:
        if state.hosted is None:
            raise unavailable(url, "hosted contexts are not available here")
        document = await state.hosted.get(context_id)
        if document is None or "@context" not in document:
            raise unavailable(url, "no such hosted context")
        state.uses_hosted = True
        return document["@context"]
