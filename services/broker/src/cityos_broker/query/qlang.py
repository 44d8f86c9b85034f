"""The NGSI-LD Query Language (`q`, ETSI GS CIM 009 clause 4.9): compiled once, evaluated per entity."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from cityos_broker.query.syntax import Expand


class QExpression:
    """A compiled `q` expression; build it with `compile_q`."""

    def matches(self, entity: Mapping[str, Any]) -> bool:
        """True when the stored-form entity satisfies the expression."""
        raise NotImplementedError

    def attribute_iris(self) -> frozenset[str]:
        """Expanded IRIs of every top-level attribute the expression references."""
        raise NotImplementedError

    def required_iris(self) -> frozenset[str]:
        """Top-level attribute IRIs that every matching entity must have (empty unless derivable)."""
        raise NotImplementedError

    def numeric_ranges(self) -> dict[str, tuple[float | None, float | None]]:
        """Inclusive numeric bounds on top-level attribute values implied by an AND chain (None = open)."""
        raise NotImplementedError


def compile_q(q: str, expand: Expand) -> QExpression:
    """Parse a `q` query once; raises ProblemError 400 BadRequestData naming the problem and position."""
    raise NotImplementedError
