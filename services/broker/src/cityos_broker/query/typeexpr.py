"""Entity type selection (ETSI GS CIM 009 clause 4.17): `,` and `|` are OR, `;` is AND, parentheses group."""

from __future__ import annotations

from collections.abc import Iterable

from cityos_broker.query.syntax import Expand


class TypeExpression:
    """A parsed type expression over expanded type IRIs; build it with `parse_type_expression`."""

    def matches(self, types: Iterable[str]) -> bool:
        """True when an entity with these (expanded) types is selected."""
        raise NotImplementedError

    def dnf(self) -> list[frozenset[str]]:
        """Disjunctive normal form: the entity must have every type of at least one of these sets."""
        raise NotImplementedError

    def type_iris(self) -> frozenset[str]:
        """Every type IRI the expression names."""
        raise NotImplementedError


def parse_type_expression(text: str, expand: Expand) -> TypeExpression:
    """Parse a type expression, expanding each term; raises ProblemError 400 on bad syntax."""
    raise NotImplementedError
