"""Validate request entities and fragments (normalized or concise JSON) and expand them to the stored form."""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Any

from cityos_runtime.problems import ProblemError

from cityos_broker.ngsild.attribute import (
    ENTITY_MEMBERS,
    NGSILD_NULL,
    Instance,
    bad,
    check_name,
    is_null,
    parse_instances,
    parse_types,
)
from cityos_broker.ngsild.contexts import TermMap

__all__ = [
    "NGSILD_NULL",
    "Attrs",
    "Fragment",
    "Instance",
    "is_null",
    "is_null_instance",
    "parse_attribute",
    "parse_entity",
    "parse_fragment",
    "validate_entity_id",
]

Attrs = dict[str, list[Instance]]

# An absolute URI: a scheme, a colon and no characters RFC 3986 forbids outright.
_ABSOLUTE_URI = re.compile(r"^[A-Za-z][A-Za-z0-9+.\-]*:[^\s<>\"{}|\\^`]+$")
_SCOPE = re.compile(r"^/[^\s/#+]+(?:/[^\s/#+]+)*$")
_MAX_ID_LENGTH = 2048
_CONTENT = ("value", "object", "languageMap", "vocab", "valueList", "objectList", "json")


@dataclass(slots=True)
class Fragment:
    """A parsed attribute fragment: attributes by IRI plus the optional id / type / scope it carried."""

    attrs: Attrs
    entity_id: str | None = None
    types: list[str] | None = None
    scope: list[str] | None = None
    scope_null: bool = False


def validate_entity_id(value: object) -> str:
    """The entity id if it is an absolute URI, else ProblemError BadRequestData."""
    if not isinstance(value, str) or not value:
        raise ProblemError("BadRequestData", "the entity id is missing or not a string")
    if len(value) > _MAX_ID_LENGTH or not _ABSOLUTE_URI.match(value):
        raise ProblemError("BadRequestData", f"the entity id {value!r} is not an absolute URI")
    return value


def is_null_instance(instance: Instance) -> bool:
    """True when a parsed instance asks for its attribute (instance) to be deleted."""
    for member in _CONTENT:
        if member in instance:
            content = instance[member]
            if member == "languageMap" and isinstance(content, dict):
                return content == {"@none": NGSILD_NULL}
            if isinstance(content, list):
                return content == [NGSILD_NULL]
            return is_null(content)
    return False


def parse_entity(doc: dict[str, Any], terms: TermMap, now: str) -> dict[str, Any]:
    """Validate a whole entity (create / replace / upsert) and return its stored form."""
    if not isinstance(doc, dict):
        raise ProblemError("BadRequestData", "an entity must be a JSON object")
    entity_id = validate_entity_id(doc.get("id", doc.get("@id")))
    raw_type = doc.get("type", doc.get("@type"))
    if raw_type is None:
        raise ProblemError("BadRequestData", f"entity {entity_id} has no type")
    entity: dict[str, Any] = {"id": entity_id, "type": parse_types(raw_type, terms)}
    if "scope" in doc:
        scope = _parse_scope(doc["scope"])
        if scope:
            entity["scope"] = scope
    entity["createdAt"] = now
    entity["modifiedAt"] = now
    entity["attrs"] = _parse_attrs(doc, terms, now, allow_null=False, partial=False)
    return entity


def parse_fragment(doc: dict[str, Any], terms: TermMap, now: str, *, allow_null: bool = False) -> Fragment:
    """Validate an attribute fragment (append / update / merge bodies).

    With allow_null (merge-patch), "urn:ngsi-ld:null" or JSON null marks an attribute, sub-attribute or
    value key for deletion; the markers are kept in the fragment for `operations.merge_entity`.
    """
    if not isinstance(doc, dict):
        raise ProblemError("BadRequestData", "an attribute fragment must be a JSON object")
    fragment = Fragment(attrs=_parse_attrs(doc, terms, now, allow_null=allow_null, partial=False))
    raw_id = doc.get("id", doc.get("@id"))
    if raw_id is not None:
        fragment.entity_id = validate_entity_id(raw_id)
    raw_type = doc.get("type", doc.get("@type"))
    if raw_type is not None:
        fragment.types = parse_types(raw_type, terms)
    if "scope" in doc:
        if is_null(doc["scope"]):
            if not allow_null:
                raise ProblemError("BadRequestData", "scope must not be null")
            fragment.scope_null = True
        else:
            fragment.scope = _parse_scope(doc["scope"])
    return fragment


def parse_attribute(
    name: str, doc: object, terms: TermMap, now: str, *, allow_null: bool = False, partial: bool = False
) -> tuple[str, list[Instance]]:
    """Validate the body of PUT/PATCH /entities/{id}/attrs/{attrId}; returns (attribute IRI, instances).

    With partial (PATCH) the body may hold only some members (e.g. just a sub-attribute or observedAt);
    such an instance then carries no "type" and is merged into the stored one.
    """
    if doc is None or is_null(doc):
        raise ProblemError("InvalidRequest", "the attribute body must not be null")
    iri = _attr_iri(name, terms)
    return iri, parse_instances(name, iri, doc, terms, now, allow_null=allow_null, partial=partial)


def _attr_iri(name: str, terms: TermMap) -> str:
    check_name(name, "attribute")
    if name in ENTITY_MEMBERS or name in ("@id", "@type", "@context"):
        raise bad(f"{name!r} is not a valid attribute name")
    iri = terms.expand(name)
    if iri.startswith("@"):
        raise bad(f"{name!r} is not a valid attribute name")
    return iri


def _parse_attrs(doc: dict[str, Any], terms: TermMap, now: str, *, allow_null: bool, partial: bool) -> Attrs:
    attrs: Attrs = {}
    for name, raw in doc.items():
        if name in ENTITY_MEMBERS or name in ("@id", "@type", "@context"):
            continue
        iri = _attr_iri(name, terms)
        instances = parse_instances(name, iri, raw, terms, now, allow_null=allow_null, partial=partial)
        if iri in attrs:
            # Two names (e.g. a term and its full IRI) for one attribute: one attribute, checked as one.
            instances = attrs[iri] + instances
            seen: set[str | None] = set()
            for instance in instances:
                dataset = instance.get("datasetId")
                if dataset in seen:
                    raise bad(f"attribute {name!r} has two instances with the same datasetId")
                seen.add(dataset)
        attrs[iri] = instances
    return attrs


def _parse_scope(value: object) -> list[str]:
    items = value if isinstance(value, list) else [value]
    scope: list[str] = []
    for item in items:
        if not isinstance(item, str) or not _SCOPE.match(item):
            raise bad(f"invalid scope {item!r}: scopes look like /Level1/Level2 (no '#', '+' or spaces)")
        if item not in scope:
            scope.append(item)
    return scope
