"""Scope queries (`scopeQ`, ETSI GS CIM 009 clause 4.19): `/a/b`, `/a/#`, `/a/+`, `/#`, `,` OR, `;` AND."""

from __future__ import annotations

from collections.abc import Iterable


class ScopeQuery:
    """A parsed scope query; build it with `parse_scope_query`."""

    def matches(self, scopes: Iterable[str]) -> bool:
        """True when an entity with these scopes is selected."""
        raise NotImplementedError


def parse_scope_query(text: str) -> ScopeQuery:
    """Parse a `scopeQ`; raises ProblemError 400 BadRequestData naming the problem and its position."""
    raise NotImplementedError


def validate_scope(scope: str) -> None:
    """Check one entity scope value (`/segment/...`); raises ProblemError 400 BadRequestData if invalid."""
    raise NotImplementedError
