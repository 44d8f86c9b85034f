"""A small precompiled path router: a trie of literal segments and `{param}` placeholders."""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass, field
from urllib.parse import unquote

from cityos_runtime.problems import ProblemError

from cityos_gateway.http import Request, Response

Handler = Callable[[Request], Awaitable[Response]]


@dataclass(frozen=True, slots=True)
class Route:
    """A path template and the handler of each method it accepts."""

    template: str
    handlers: Mapping[str, Handler]
    allow: str = ""


@dataclass(slots=True)
class _Node:
    literals: dict[str, _Node] = field(default_factory=dict)
    param: _Node | None = None
    route: Route | None = None


class Router:
    """Matches a raw request path to a route and its percent-decoded path parameters."""

    def __init__(self, routes: Mapping[str, Mapping[str, Handler]]) -> None:
        self._root = _Node()
        for template, handlers in routes.items():
            self._add(template, handlers)

    def _add(self, template: str, handlers: Mapping[str, Handler]) -> None:
        node = self._root
        for segment in template.strip("/").split("/"):
            if segment.startswith("{") and segment.endswith("}"):
                node.param = node.param or _Node()
                node = node.param
            else:
                node = node.literals.setdefault(segment, _Node())
        if node.route is not None:
            raise ValueError(f"route {template} is defined twice")
        allow = ", ".join(sorted({*handlers, "OPTIONS"}))
        node.route = Route(template, dict(handlers), allow)

    def match(self, raw_path: str) -> tuple[Route, tuple[str, ...]]:
        """The route for a raw (still percent-encoded) path, or ProblemError 404.

        Splitting before decoding keeps an encoded `/` (%2F) inside an id. A trailing slash is accepted
        on collection paths (templates that end in a literal segment).
        """
        segments = raw_path.split("/")[1:]
        trailing = len(segments) > 1 and segments[-1] == ""
        if trailing:
            segments.pop()
        node: _Node | None = self._root
        params: list[str] = []
        for segment in segments:
            assert node is not None
            child = node.literals.get(segment)
            if child is None and node.param is not None and segment:
                params.append(_decode(segment))
                child = node.param
            node = child
            if node is None:
                break
        route = node.route if node is not None else None
        if route is None or (trailing and route.template.endswith("}")):
            raise ProblemError("ResourceNotFound", f"no resource at {unquote(raw_path)}")
        return route, tuple(params)


def _decode(segment: str) -> str:
    """Percent-decode one path segment as UTF-8, or fail with 400."""
    try:
        return unquote(segment, errors="strict")
    except UnicodeDecodeError as exc:
        raise ProblemError("BadRequestData", "a path segment is not valid percent-encoded UTF-8") from exc
