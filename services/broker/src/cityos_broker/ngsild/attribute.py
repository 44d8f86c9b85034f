"""Parse one attribute (normalized or concise, any NGSI-LD attribute kind) into stored instances."""

from __future__ import annotations

import re
from datetime import datetime
from typing import Any

from cityos_runtime.problems import ProblemError

from cityos_broker.ngsild.geojson import looks_like_geometry, validate_geometry
from cityos_broker.ngsild.terms import NGSILD_PREFIX, TermMap

NGSILD_NULL = "urn:ngsi-ld:null"
Instance = dict[str, Any]

# NGSI-LD attribute kind -> the member holding its content.
CONTENT_MEMBER: dict[str, str] = {
    "Property": "value",
    "GeoProperty": "value",
    "Relationship": "object",
    "LanguageProperty": "languageMap",
    "VocabProperty": "vocab",
    "ListProperty": "valueList",
    "ListRelationship": "objectList",
    "JsonProperty": "json",
}
_KIND_BY_IRI = {NGSILD_PREFIX + kind: kind for kind in CONTENT_MEMBER}
# Concise input: the member present tells the kind ("value" last: it is the most generic).
_CONCISE = (
    ("object", "Relationship"),
    ("languageMap", "LanguageProperty"),
    ("vocab", "VocabProperty"),
    ("valueList", "ListProperty"),
    ("objectList", "ListRelationship"),
    ("json", "JsonProperty"),
    ("value", "Property"),
)
ENTITY_MEMBERS = frozenset({"id", "type", "scope", "@context", "createdAt", "modifiedAt", "deletedAt"})
# Clause 4.7: the core geospatial attributes are always GeoProperties.
GEO_ATTRIBUTES = frozenset(NGSILD_PREFIX + n for n in ("location", "observationSpace", "operationSpace"))
# Members the broker sets or that only appear in notifications / temporal output: accepted, not stored.
_IGNORED = frozenset(
    {"createdAt", "modifiedAt", "deletedAt", "instanceId", "lang", "@context"}
    | {"previousValue", "previousObject", "previousLanguageMap", "previousVocab"}
    | {"previousValueList", "previousObjectList", "previousJson"}
)
_RESERVED = frozenset(
    {"type", "@type", "observedAt", "unitCode", "datasetId", "objectType", "id", "@id"}
    | set(CONTENT_MEMBER.values())
)
# Clause 4.6.2: characters that may not appear in entity type and attribute names.
_FORBIDDEN_NAME = re.compile(r"[\s<>\"'=;()\x00-\x1f\x7f]")
_LANGUAGE_TAG = re.compile(r"^(?:[A-Za-z]{1,8}(?:-[A-Za-z0-9]{1,8})*|@none)$")
_ABSOLUTE_URI = re.compile(r"^[A-Za-z][A-Za-z0-9+.\-]*:[^\s<>\"{}|\\^`]+$")
_MAX_NAME = 512


def bad(detail: str) -> ProblemError:
    """A BadRequestData problem."""
    return ProblemError("BadRequestData", detail)


def is_null(value: object) -> bool:
    """True for the NGSI-LD null ("urn:ngsi-ld:null") and JSON null (merge-patch deletions)."""
    return value is None or value == NGSILD_NULL


def check_name(name: object, what: str) -> str:
    """An attribute or type name if non-empty and free of forbidden characters."""
    if not isinstance(name, str) or not name or len(name) > _MAX_NAME or _FORBIDDEN_NAME.search(name):
        raise bad(f"invalid {what} name {name!r}")
    return name


def check_uri(value: object, what: str) -> str:
    """An absolute URI, else BadRequestData."""
    if not isinstance(value, str) or not _ABSOLUTE_URI.match(value):
        raise bad(f"{what} must be an absolute URI, got {value!r}")
    return value


def check_datetime(value: object, what: str) -> str:
    """An ISO 8601 DateTime string (with a time part), else BadRequestData."""
    if isinstance(value, str) and "T" in value:
        try:
            datetime.fromisoformat(value)
            return value
        except ValueError:
            pass
    raise bad(f"{what} must be an ISO 8601 DateTime, got {value!r}")


def parse_types(value: object, terms: TermMap) -> list[str]:
    """Entity type(s): a name or a non-empty list of names, expanded and de-duplicated."""
    items = value if isinstance(value, list) else [value]
    if not items:
        raise bad("an entity needs at least one type")
    types: list[str] = []
    for item in items:
        iri = terms.expand_vocab(check_name(item, "entity type"))
        if iri.startswith("@"):
            raise bad(f"invalid entity type {item!r}")
        if iri not in types:
            types.append(iri)
    return types


def parse_instances(
    name: str, iri: str, raw: object, terms: TermMap, now: str, *, allow_null: bool, partial: bool
) -> list[Instance]:
    """All instances of one attribute; several only when given as an array of attribute objects."""
    if isinstance(raw, list) and raw and all(isinstance(item, dict) and _is_attribute(item) for item in raw):
        instances = [_instance(name, item, terms, now, allow_null, partial, 0) for item in raw]
    else:
        instances = [_instance(name, raw, terms, now, allow_null, partial, 0)]
    seen: set[str | None] = set()
    for instance in instances:
        kind = instance.get("type", "GeoProperty")
        if iri in GEO_ATTRIBUTES and kind != "GeoProperty" and instance.get("value") != NGSILD_NULL:
            raise bad(f"attribute {name!r} must be a GeoProperty with a GeoJSON geometry value")
        dataset = instance.get("datasetId")
        if dataset in seen:
            which = f"datasetId {dataset}" if dataset else "no datasetId (the default instance)"
            raise bad(f"attribute {name!r} has more than one instance with {which}")
        seen.add(dataset)
    return instances


def _is_attribute(item: dict[str, Any]) -> bool:
    kind = item.get("type")
    if isinstance(kind, str) and (kind in CONTENT_MEMBER or kind in _KIND_BY_IRI):
        return True
    return any(member in item for member, _ in _CONCISE)


def _kind(name: str, raw: dict[str, Any], terms: TermMap, partial: bool) -> str | None:
    declared = raw.get("type", raw.get("@type"))
    if declared is not None:
        if isinstance(declared, str):
            kind = declared if declared in CONTENT_MEMBER else _KIND_BY_IRI.get(terms.expand(declared))
            if kind is not None:
                return kind
        if looks_like_geometry(raw):
            return "geometry"
        raise bad(f"attribute {name!r}: unknown attribute type {declared!r}")
    for member, kind in _CONCISE:
        if member in raw:
            if kind == "Property" and looks_like_geometry(raw["value"]):
                return "GeoProperty"
            return kind
    return None if partial else "compound"


def _instance(
    name: str, raw: object, terms: TermMap, now: str, allow_null: bool, partial: bool, depth: int
) -> Instance:
    where = f"attribute {name!r}"
    if depth > 8:
        raise bad(f"{where}: sub-attributes nested too deeply")
    if is_null(raw):
        if not allow_null:
            raise bad(f"{where}: null is only allowed in merge and partial updates")
        return {"type": "Property", "value": NGSILD_NULL}
    if not isinstance(raw, dict):
        return {"type": "Property", "value": raw, "createdAt": now, "modifiedAt": now}
    kind = _kind(name, raw, terms, partial)
    if kind == "geometry":
        # Concise GeoProperty: the geometry itself (on location and any other attribute).
        return {
            "type": "GeoProperty",
            "value": validate_geometry(raw, where),
            "createdAt": now,
            "modifiedAt": now,
        }
    if kind == "compound":
        # Concise: a JSON object without any attribute member is itself the Property's value.
        return {"type": "Property", "value": raw, "createdAt": now, "modifiedAt": now}
    instance: Instance = {}
    if kind is not None:
        instance["type"] = kind
        member = CONTENT_MEMBER[kind]
        if member not in raw:
            raise bad(f"{where}: a {kind} needs a {member!r} member")
        instance[member] = _content(where, kind, raw[member], terms, allow_null)
    _common_members(where, kind, raw, instance)
    if "objectType" in raw:
        if kind not in ("Relationship", "ListRelationship", None):
            raise bad(f"{where}: objectType is only allowed on relationships")
        instance["objectType"] = _vocab(where, raw["objectType"], terms, allow_null=False)
    subs: dict[str, Instance] = {}
    for key, value in raw.items():
        if key in _RESERVED or key in _IGNORED:
            continue
        if key.startswith("@"):
            raise bad(f"{where}: {key!r} is not a valid sub-attribute name")
        check_name(key, "sub-attribute")
        sub_iri = terms.expand(key)
        if sub_iri.startswith("@"):
            raise bad(f"{where}: {key!r} is not a valid sub-attribute name")
        subs[sub_iri] = _instance(key, value, terms, now, allow_null, partial, depth + 1)
    if subs:
        instance["attrs"] = subs
    instance["createdAt"] = now
    instance["modifiedAt"] = now
    return instance


def _common_members(where: str, kind: str | None, raw: dict[str, Any], instance: Instance) -> None:
    if "observedAt" in raw:
        instance["observedAt"] = check_datetime(raw["observedAt"], f"{where}: observedAt")
    if "unitCode" in raw:
        if kind not in ("Property", "GeoProperty", "ListProperty", None) or not isinstance(
            raw["unitCode"], str
        ):
            raise bad(f"{where}: unitCode must be a string on a Property")
        instance["unitCode"] = raw["unitCode"]
    if "datasetId" in raw:
        instance["datasetId"] = check_uri(raw["datasetId"], f"{where}: datasetId")


def _content(where: str, kind: str, value: object, terms: TermMap, allow_null: bool) -> object:
    """Validate (and where needed expand) the content member of one instance."""
    if value is None or (value == NGSILD_NULL and kind != "LanguageProperty"):
        if allow_null:
            return NGSILD_NULL
        raise bad(f"{where}: a null value is only allowed in merge and partial updates")
    if kind == "GeoProperty":
        return validate_geometry(value, where)
    if kind == "Relationship":
        if isinstance(value, list) and value:
            return [check_uri(item, f"{where}: object") for item in value]
        return check_uri(value, f"{where}: object")
    if kind == "LanguageProperty":
        return _language_map(where, value, allow_null)
    if kind == "VocabProperty":
        return _vocab(where, value, terms, allow_null=allow_null)
    if kind == "ListProperty":
        if isinstance(value, dict) and isinstance(value.get("@list"), list):
            value = value["@list"]
        if not isinstance(value, list):
            raise bad(f"{where}: valueList must be an array")
        return value
    if kind == "ListRelationship":
        if isinstance(value, dict) and isinstance(value.get("@list"), list):
            value = value["@list"]
        if not isinstance(value, list):
            raise bad(f"{where}: objectList must be an array")
        return [
            check_uri(item.get("object") if isinstance(item, dict) else item, f"{where}: objectList")
            for item in value
        ]
    return value  # Property values and JsonProperty json are any JSON


def _language_map(where: str, value: object, allow_null: bool) -> dict[str, Any]:
    if value == NGSILD_NULL and allow_null:
        return {"@none": NGSILD_NULL}
    if not isinstance(value, dict) or not value:
        raise bad(f"{where}: languageMap must be a non-empty object of language tag -> string")
    for tag, text in value.items():
        if not _LANGUAGE_TAG.match(tag):
            raise bad(f"{where}: {tag!r} is not a language tag")
        if text == NGSILD_NULL and not allow_null:
            raise bad(f"{where}: a null value is only allowed in merge and partial updates")
        if not (isinstance(text, str) or (isinstance(text, list) and all(isinstance(t, str) for t in text))):
            raise bad(f"{where}: languageMap values must be strings or arrays of strings")
    return value


def _vocab(where: str, value: object, terms: TermMap, *, allow_null: bool) -> str | list[str]:
    if isinstance(value, list) and value:
        return [_vocab_item(where, item, terms, allow_null) for item in value]
    return _vocab_item(where, value, terms, allow_null)


def _vocab_item(where: str, value: object, terms: TermMap, allow_null: bool) -> str:
    if value == NGSILD_NULL and allow_null:
        return NGSILD_NULL
    if not isinstance(value, str) or not value or _FORBIDDEN_NAME.search(value):
        raise bad(f"{where}: vocabulary values must be names or IRIs, got {value!r}")
    return terms.expand_vocab(value)
