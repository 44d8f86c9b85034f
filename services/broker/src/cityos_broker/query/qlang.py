"""The NGSI-LD Query Language (`q`, ETSI GS CIM 009 clause 4.9): compiled once, evaluated per entity.

Semantics on the stored entity form (docs/broker-design.md):
- a Property (or GeoProperty) compares its `value`, a ListProperty its `valueList`, a JsonProperty its
  `json`; a Relationship its `object`, a ListRelationship its `objectList` (only `==` / `!=` can match);
  a LanguageProperty the strings of every language, or of one with `attr[ja]` (`attr[*]`: any language);
  a VocabProperty its `vocab`, against the query value expanded with the caller's @context;
- `attr.sub` follows sub-attributes, `attr.observedAt` (unitCode, datasetId, createdAt, modifiedAt)
  addresses that member, `attr[a.b]` (also `attr.sub[a.b]`) walks into a compound value; on arrays every
  element is tried;
- an entity matches when any instance (any datasetId) of the attribute satisfies the term;
- `==` matches when the value (or any value of a list `a,b`, or the range `lo..hi`) equals the target or
  is included in a target array; `!=` is its negation, so a target of another data type is unequal;
  `>` `>=` `<` `<=` and `~=` never match a target of another data type;
- DateTime, Date and Time values compare temporally; `~=` / `!~=` use Python `re` with search semantics
  (as POSIX regexec, IEEE 1003.2, and the other NGSI-LD brokers do): anchor with `^...$` for a full match.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from cityos_broker.query.qparse import QParser
from cityos_broker.query.qterms import Bounds, ExactRange, Node, Term
from cityos_broker.query.syntax import Expand


class QExpression:
    """A compiled `q` expression; build it with `compile_q`."""

    __slots__ = ("_attributes", "_ranges", "_required", "_root", "text")

    def __init__(self, text: str, root: Node) -> None:
        self.text = text
        self._root = root
        self._attributes = frozenset(root.attributes())
        self._required = root.required()
        self._ranges = root.ranges()

    def matches(self, entity: Mapping[str, Any]) -> bool:
        """True when the stored-form entity satisfies the expression."""
        return self._root.matches(entity)

    def attribute_iris(self) -> frozenset[str]:
        """Expanded IRIs of every top-level attribute the expression references."""
        return self._attributes

    def required_iris(self) -> frozenset[str]:
        """Top-level attribute IRIs that every matching entity must have.

        Every Query Term needs its attribute; an AND needs what any side needs, an OR what all sides need.
        For a pure AND chain that is every attribute named.
        """
        return self._required

    def numeric_ranges(self) -> dict[str, Bounds]:
        """Inclusive numeric bounds on top-level attribute values implied by the AND chain (None = open).

        Necessary, not sufficient: strict bounds are widened to inclusive ones and only terms on a plain
        top-level attribute with number values count; `matches` still decides.
        """
        return dict(self._ranges)

    def exact_range(self) -> ExactRange | None:
        """The numeric range the whole expression is equivalent to (see `Term.exact_range`), else None."""
        return self._root.exact_range() if isinstance(self._root, Term) else None

    def __repr__(self) -> str:
        return f"QExpression({self.text!r})"


def compile_q(q: str, expand: Expand) -> QExpression:
    """Parse a `q` query once; raises ProblemError 400 BadRequestData naming the problem and position."""
    return QExpression(q, QParser(q, expand, "q").parse())
