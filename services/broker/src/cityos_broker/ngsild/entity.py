"""Validate request entities and fragments (normalized or concise JSON) and expand them to the stored form."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from cityos_broker.ngsild.contexts import TermMap

NGSILD_NULL = "urn:ngsi-ld:null"

Instance = dict[str, Any]
Attrs = dict[str, list[Instance]]


@dataclass(slots=True)
class Fragment:
    """A parsed attribute fragment: attributes by IRI plus the optional id / type / scope it carried."""

    attrs: Attrs
    entity_id: str | None = None
    types: list[str] | None = None
    scope: list[str] | None = None
    scope_null: bool = False
    extra: dict[str, Any] = field(default_factory=dict)


def parse_entity(doc: dict[str, Any], terms: TermMap, now: str) -> dict[str, Any]:
    """Validate a whole entity (create / replace / upsert) and return its stored form."""
    raise NotImplementedError


def parse_fragment(doc: dict[str, Any], terms: TermMap, now: str, *, allow_null: bool = False) -> Fragment:
    """Validate an attribute fragment (append / update / merge bodies).

    With allow_null (merge-patch), "urn:ngsi-ld:null" or JSON null marks an attribute, sub-attribute or
    value key for deletion; the markers are kept in the fragment for `operations.merge_entity`.
    """
    raise NotImplementedError


def parse_attribute(
    name: str, doc: object, terms: TermMap, now: str, *, allow_null: bool = False
) -> tuple[str, list[Instance]]:
    """Validate the body of PUT/PATCH /entities/{id}/attrs/{attrId}; returns (attribute IRI, instances)."""
    raise NotImplementedError


def validate_entity_id(value: object) -> str:
    """The entity id if it is an absolute URI, else ProblemError BadRequestData."""
    raise NotImplementedError


def is_null(value: object) -> bool:
    """True for the NGSI-LD null ("urn:ngsi-ld:null") and JSON null (merge-patch deletions)."""
    raise NotImplementedError


def is_null_instance(instance: Instance) -> bool:
    """True when a parsed instance asks for its attribute (instance) to be deleted."""
    raise NotImplementedError
