"""Fetch remote @context documents: SSRF-checked per redirect, time- and size-limited, shared in flight."""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable
from typing import Any
from urllib.parse import urljoin, urlsplit

import httpx
import orjson
from cityos_runtime.problems import ProblemError
from cityos_runtime.ssrf import UnsafeUrlError, check_outbound_url

UrlGuard = Callable[[str], Awaitable[None]]

_MAX_REDIRECTS = 3
_ACCEPT = "application/ld+json, application/json;q=0.9"


def unavailable(url: str, why: str) -> ProblemError:
    """The LdContextNotAvailable (503) problem for a context URL."""
    return ProblemError("LdContextNotAvailable", f"@context {url} is not available: {why}", status=503)


def runtime_guard(allow_private: bool) -> UrlGuard:
    """The platform SSRF guard (cityos_runtime.ssrf) bound to the deployment's private-address setting."""

    async def guard(url: str) -> None:
        await check_outbound_url(url, allow_private=allow_private)

    return guard


class ContextFetcher:
    """GETs context documents over HTTP(S); one request per URL at a time however many callers wait."""

    def __init__(
        self, *, http: httpx.AsyncClient | None, timeout: float, max_bytes: int, url_guard: UrlGuard
    ) -> None:
        self._owns_http = http is None
        self._http = http if http is not None else httpx.AsyncClient(follow_redirects=False)
        self._timeout = timeout
        self._max_bytes = max_bytes
        self._guard = url_guard
        self._inflight: dict[str, asyncio.Future[dict[str, Any]]] = {}

    async def aclose(self) -> None:
        """Close the HTTP client if this fetcher created it."""
        if self._owns_http:
            await self._http.aclose()

    async def fetch(self, url: str) -> dict[str, Any]:
        """The JSON document at `url` (it must have an @context member), else LdContextNotAvailable."""
        pending = self._inflight.get(url)
        if pending is None:
            pending = asyncio.ensure_future(self._fetch(url))
            self._inflight[url] = pending
            pending.add_done_callback(lambda task: self._settled(url, task))
        # Shielded: a cancelled caller must not cancel the fetch other callers are waiting for.
        return await asyncio.shield(pending)

    def _settled(self, url: str, task: asyncio.Future[dict[str, Any]]) -> None:
        self._inflight.pop(url, None)
        if not task.cancelled():
            task.exception()  # retrieved here so a fetch nobody awaits any more logs no warning

    async def _fetch(self, url: str) -> dict[str, Any]:
        """GET a context document: SSRF-checked at every redirect, time- and size-limited."""
        try:
            async with asyncio.timeout(self._timeout):
                body = await self._get_following_redirects(url)
        except TimeoutError:
            raise unavailable(url, f"no answer within {self._timeout:g} s") from None
        except httpx.HTTPError as exc:
            raise unavailable(url, f"request failed ({type(exc).__name__})") from None
        except UnsafeUrlError as exc:
            raise unavailable(url, f"URL not allowed ({exc})") from None
        try:
            document = orjson.loads(body)
        except orjson.JSONDecodeError:
            raise unavailable(url, "the document is not JSON") from None
        if not isinstance(document, dict) or "@context" not in document:
            raise unavailable(url, "the document has no @context member")
        return document

    async def _get_following_redirects(self, url: str) -> bytes:
        current = url
        for _ in range(_MAX_REDIRECTS + 1):
            await self._guard(current)
            request = self._http.build_request("GET", current, headers={"Accept": _ACCEPT})
            response = await self._http.send(request, stream=True, follow_redirects=False)
            try:
                if response.is_redirect:
                    location = response.headers.get("location")
                    if not location:
                        raise unavailable(url, "redirect without Location")
                    current = urljoin(current, location)
                    if urlsplit(current).scheme not in ("http", "https"):
                        raise unavailable(url, "redirect to a non-http(s) URL")
                    continue
                if not response.is_success:
                    raise unavailable(url, f"HTTP status {response.status_code}")
                return await self._read_limited(url, response)
            finally:
                await response.aclose()
        raise unavailable(url, f"more than {_MAX_REDIRECTS} redirects")

    async def _read_limited(self, url: str, response: httpx.Response) -> bytes:
        declared = response.headers.get("content-length")
        if declared is not None and declared.isdigit() and int(declared) > self._max_bytes:
            raise unavailable(url, f"larger than {self._max_bytes} bytes")
        body = bytearray()
        async for chunk in response.aiter_bytes():
            body += chunk
            if len(body) > self._max_bytes:
                raise unavailable(url, f"larger than {self._max_bytes} bytes")
        return bytes(body)
