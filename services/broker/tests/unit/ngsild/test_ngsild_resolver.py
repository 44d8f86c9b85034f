"""ContextResolver: core built in, remote contexts fetched once with limits, hosted contexts, SSRF guard."""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from typing import Any

import httpx
import orjson
import pytest
from cityos_broker.ngsild.contexts import CORE_CONTEXT_URL, ContextResolver
from cityos_runtime.problems import ProblemError
from cityos_runtime.ssrf import UnsafeUrlError

CTX_URL = "https://contexts.example/ctx.jsonld"
CTX_DOC = {"@context": {"speed": "http://example.org/speed"}}


async def _allow(url: str) -> None:
    return None


class _Server:
    """A MockTransport handler that serves a table of URLs and counts requests."""

    def __init__(self, routes: dict[str, Callable[[httpx.Request], httpx.Response]]) -> None:
        self.routes = routes
        self.calls: list[str] = []

    def __call__(self, request: httpx.Request) -> httpx.Response:
        self.calls.append(str(request.url))
        handler = self.routes.get(str(request.url))
        return handler(request) if handler else httpx.Response(404)


def _json(doc: Any) -> Callable[[httpx.Request], httpx.Response]:
    return lambda _: httpx.Response(
        200, content=orjson.dumps(doc), headers={"content-type": "application/ld+json"}
    )


def _resolver(server: Any, **kwargs: Any) -> ContextResolver:
    http = httpx.AsyncClient(transport=httpx.MockTransport(server))
    kwargs.setdefault("url_guard", _allow)
    return ContextResolver(http=http, **kwargs)


async def test_no_context_gives_the_core_term_map() -> None:
    resolver = _resolver(_Server({}))
    terms = await resolver.term_map_for(None, None)
    assert terms.expand("location") == "https://uri.etsi.org/ngsi-ld/location"
    assert terms is resolver.core


async def test_core_context_url_is_never_fetched() -> None:
    server = _Server({})
    resolver = _resolver(server)
    terms = await resolver.term_map_for(CORE_CONTEXT_URL, None)
    await resolver.term_map_for(None, [CORE_CONTEXT_URL, {"speed": "http://example.org/speed"}])
    assert terms.expand("location") == "https://uri.etsi.org/ngsi-ld/location"
    assert server.calls == []


async def test_link_context_is_fetched_and_compiled() -> None:
    server = _Server({CTX_URL: _json(CTX_DOC)})
    resolver = _resolver(server)
    terms = await resolver.term_map_for(CTX_URL, None)
    assert terms.expand("speed") == "http://example.org/speed"
    assert terms.link_url == CTX_URL
    assert server.calls == [CTX_URL]


async def test_cache_hit_does_not_refetch() -> None:
    server = _Server({CTX_URL: _json(CTX_DOC)})
    resolver = _resolver(server)
    await resolver.term_map_for(CTX_URL, None)
    await resolver.term_map_for(CTX_URL, None)
    await resolver.term_map_for(None, [CTX_URL, {"other": "http://example.org/other"}])
    assert server.calls == [CTX_URL]
    [entry] = resolver.cached_entries()
    assert entry.url == CTX_URL
    assert entry.kind == "cached"
    assert entry.hits == 2


async def test_evict_forces_a_refetch() -> None:
    server = _Server({CTX_URL: _json(CTX_DOC)})
    resolver = _resolver(server)
    await resolver.term_map_for(CTX_URL, None)
    assert resolver.evict(CTX_URL)
    assert not resolver.evict(CTX_URL)
    await resolver.term_map_for(CTX_URL, None)
    assert server.calls == [CTX_URL, CTX_URL]


async def test_expired_cache_entry_is_refetched() -> None:
    server = _Server({CTX_URL: _json(CTX_DOC)})
    resolver = _resolver(server, ttl_seconds=0.0)
    await resolver.term_map_for(CTX_URL, None)
    await resolver.term_map_for(CTX_URL, None)
    assert server.calls == [CTX_URL, CTX_URL]


async def test_nested_remote_contexts_are_resolved() -> None:
    inner = "https://contexts.example/inner.jsonld"
    server = _Server(
        {
            CTX_URL: _json({"@context": [inner, {"speed": "ex:speed"}]}),
            inner: _json({"@context": {"ex": "http://example.org/"}}),
        }
    )
    terms = await _resolver(server).term_map_for(CTX_URL, None)
    assert terms.expand("speed") == "http://example.org/speed"


async def test_context_nesting_beyond_the_depth_limit_is_not_available() -> None:
    routes = {
        f"https://contexts.example/{i}.jsonld": _json(
            {"@context": f"https://contexts.example/{i + 1}.jsonld"}
        )
        for i in range(5)
    }
    resolver = _resolver(_Server(routes), max_depth=3)
    with pytest.raises(ProblemError) as caught:
        await resolver.term_map_for("https://contexts.example/0.jsonld", None)
    assert caught.value.kind == "LdContextNotAvailable"


async def test_context_fetch_timeout_is_ld_context_not_available() -> None:
    async def slow(request: httpx.Request) -> httpx.Response:
        await asyncio.sleep(5)
        return httpx.Response(200, json=CTX_DOC)

    resolver = ContextResolver(
        http=httpx.AsyncClient(transport=httpx.MockTransport(slow)), url_guard=_allow, fetch_timeout=0.05
    )
    with pytest.raises(ProblemError) as caught:
        await resolver.term_map_for(CTX_URL, None)
    assert caught.value.kind == "LdContextNotAvailable"
    assert caught.value.status == 503


async def test_context_too_large_is_ld_context_not_available() -> None:
    big = {"@context": {f"t{i}": f"http://example.org/{i}" for i in range(2000)}}
    resolver = _resolver(_Server({CTX_URL: _json(big)}), max_bytes=1000)
    with pytest.raises(ProblemError) as caught:
        await resolver.term_map_for(CTX_URL, None)
    assert caught.value.kind == "LdContextNotAvailable"
    assert "larger than 1000 bytes" in caught.value.detail


async def test_context_too_large_without_content_length_is_cut_while_streaming() -> None:
    async def chunks() -> Any:
        for _ in range(100):
            yield b" " * 100

    server = _Server({CTX_URL: lambda _: httpx.Response(200, content=chunks())})
    resolver = _resolver(server, max_bytes=1000)
    with pytest.raises(ProblemError) as caught:
        await resolver.term_map_for(CTX_URL, None)
    assert "larger than" in caught.value.detail


async def test_blocked_private_url_is_ld_context_not_available() -> None:
    server = _Server({"http://10.0.0.1/ctx.jsonld": _json(CTX_DOC)})
    http = httpx.AsyncClient(transport=httpx.MockTransport(server))
    resolver = ContextResolver(http=http, allow_private=False)
    with pytest.raises(ProblemError) as caught:
        await resolver.term_map_for("http://10.0.0.1/ctx.jsonld", None)
    assert caught.value.kind == "LdContextNotAvailable"
    assert server.calls == []


async def test_private_url_is_fetched_when_allowed() -> None:
    server = _Server({"http://10.0.0.1/ctx.jsonld": _json(CTX_DOC)})
    http = httpx.AsyncClient(transport=httpx.MockTransport(server))
    resolver = ContextResolver(http=http, allow_private=True)
    terms = await resolver.term_map_for("http://10.0.0.1/ctx.jsonld", None)
    assert terms.expand("speed") == "http://example.org/speed"


async def test_redirect_to_a_blocked_url_is_refused() -> None:
    checked: list[str] = []

    async def guard(url: str) -> None:
        checked.append(url)
        if "internal" in url:
            raise UnsafeUrlError("private")

    redirect = _Server({CTX_URL: lambda _: httpx.Response(302, headers={"location": "http://internal/ctx"})})
    resolver = _resolver(redirect, url_guard=guard)
    with pytest.raises(ProblemError) as caught:
        await resolver.term_map_for(CTX_URL, None)
    assert caught.value.kind == "LdContextNotAvailable"
    assert checked == [CTX_URL, "http://internal/ctx"]
    assert redirect.calls == [CTX_URL]


async def test_redirects_are_followed_at_most_three_times() -> None:
    routes = {
        f"https://contexts.example/r{i}": (
            lambda _, i=i: httpx.Response(301, headers={"location": f"/r{i + 1}"})  # type: ignore[misc]
        )
        for i in range(4)
    }
    routes["https://contexts.example/r4"] = _json(CTX_DOC)
    with pytest.raises(ProblemError) as caught:
        await _resolver(_Server(routes)).term_map_for("https://contexts.example/r0", None)
    assert "redirects" in caught.value.detail
    terms = await _resolver(_Server(routes)).term_map_for("https://contexts.example/r1", None)
    assert terms.expand("speed") == "http://example.org/speed"


@pytest.mark.parametrize(
    "response",
    [
        httpx.Response(404),
        httpx.Response(200, content=b"<html>not json</html>"),
        httpx.Response(200, content=b'{"no": "context"}'),
    ],
)
async def test_unusable_context_documents_are_not_available(response: httpx.Response) -> None:
    resolver = _resolver(_Server({CTX_URL: lambda _: response}))
    with pytest.raises(ProblemError) as caught:
        await resolver.term_map_for(CTX_URL, None)
    assert caught.value.kind == "LdContextNotAvailable"


async def test_refused_connection_is_ld_context_not_available() -> None:
    def refuse(request: httpx.Request) -> httpx.Response:
        raise httpx.ConnectError("refused", request=request)

    resolver = _resolver(refuse)
    with pytest.raises(ProblemError) as caught:
        await resolver.term_map_for(CTX_URL, None)
    assert caught.value.kind == "LdContextNotAvailable"


async def test_hosted_context_is_read_from_the_store_not_fetched() -> None:
    class Hosted:
        async def get(self, context_id: str) -> dict[str, Any] | None:
            return {"@context": {"speed": "http://hosted.example/speed"}} if context_id == "abc" else None

    server = _Server({})
    resolver = _resolver(server, hosted=Hosted())
    terms = await resolver.term_map_for("http://broker:8080/ngsi-ld/v1/jsonldContexts/abc", None)
    assert terms.expand("speed") == "http://hosted.example/speed"
    with pytest.raises(ProblemError) as caught:
        await resolver.term_map_for("http://broker:8080/ngsi-ld/v1/jsonldContexts/missing", None)
    assert caught.value.kind == "LdContextNotAvailable"
    assert server.calls == []
    assert resolver.cached_entries() == []


async def test_hosted_context_id_in_the_url_is_percent_decoded() -> None:
    asked: list[str] = []

    class Hosted:
        async def get(self, context_id: str) -> dict[str, Any] | None:
            asked.append(context_id)
            return {"@context": {"speed": "http://hosted.example/speed"}}

    resolver = _resolver(_Server({}), hosted=Hosted())
    await resolver.term_map_for("http://gw/ngsi-ld/v1/jsonldContexts/urn%3Angsi-ld%3AContext%3A1", None)
    assert asked == ["urn:ngsi-ld:Context:1"]


async def test_inline_body_context_compiles_without_fetching() -> None:
    server = _Server({})
    terms = await _resolver(server).term_map_for(None, {"speed": "http://example.org/speed"})
    assert terms.expand("speed") == "http://example.org/speed"
    assert terms.context_value == {"speed": "http://example.org/speed"}


async def test_relative_context_url_is_bad_request_data() -> None:
    with pytest.raises(ProblemError) as caught:
        await _resolver(_Server({})).term_map_for("ctx.jsonld", None)
    assert caught.value.kind == "BadRequestData"


async def test_concurrent_requests_share_one_fetch() -> None:
    server = _Server({CTX_URL: _json(CTX_DOC)})
    resolver = _resolver(server)
    await asyncio.gather(*(resolver.term_map_for(CTX_URL, None) for _ in range(5)))
    assert server.calls == [CTX_URL]


async def test_same_inline_context_reuses_the_compiled_term_map() -> None:
    resolver = _resolver(_Server({}))
    first = await resolver.term_map_for(None, {"speed": "http://example.org/speed"})
    second = await resolver.term_map_for(None, {"speed": "http://example.org/speed"})
    assert first is second


async def test_inline_context_larger_than_the_limit_is_not_cached() -> None:
    resolver = _resolver(_Server({}), max_bytes=100)
    big = {f"t{i}": f"http://example.org/{i}" for i in range(20)}
    first = await resolver.term_map_for(None, big)
    second = await resolver.term_map_for(None, big)
    assert first is not second
    assert second.expand("t3") == "http://example.org/3"
