"""Query-language attribute paths (`attr`, `attr.sub`, `attr.observedAt`, `attr[a.b]`) on stored entities."""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from enum import Enum
from typing import Any

# Members of an attribute instance that a dotted path addresses directly instead of a sub-attribute.
META_MEMBERS = frozenset({"observedAt", "unitCode", "datasetId", "createdAt", "modifiedAt"})

# The trailing path `[*]` on a LanguageProperty: any language.
ANY_LANGUAGE = "*"


class TargetKind(Enum):
    """How a target value compares (clause 4.9 gives each attribute kind its own rules)."""

    VALUE = "value"  # Property / GeoProperty value, ListProperty valueList, JsonProperty json, a meta member
    OBJECT = "object"  # Relationship object(s), ListRelationship objectList: only == and != can match
    VOCAB = "vocab"  # VocabProperty: query values are expanded with the @context before comparing
    LANGUAGE = "language"  # LanguageProperty: the strings of one or every language


@dataclass(frozen=True, slots=True)
class AttributePath:
    """A resolved attribute path: expanded attribute IRIs plus the unexpanded trailing JSON path."""

    text: str
    attribute: str  # expanded IRI of the top-level attribute
    sub_attributes: tuple[str, ...] = ()  # expanded IRIs of nested sub-attributes
    meta: str | None = None  # a META_MEMBERS name addressed after the attribute path
    trailing: tuple[str, ...] | None = None  # `[a.b]`: member names inside the value (or a language)

    @property
    def is_plain(self) -> bool:
        """True for a bare top-level attribute (its value is what a value index would hold)."""
        return not self.sub_attributes and self.meta is None and self.trailing is None

    def targets(self, entity: Mapping[str, Any]) -> list[tuple[TargetKind, Any]]:
        """Every target value the path designates in the entity, one per attribute instance reached."""
        attrs = entity.get("attrs")
        found = attrs.get(self.attribute) if isinstance(attrs, dict) else None
        if not found:
            return []
        out: list[tuple[TargetKind, Any]] = []
        for instance in _as_instances(found):
            leaves = [instance] if not self.sub_attributes else list(_descend(instance, self.sub_attributes))
            for leaf in leaves:
                if self.meta is None:
                    _content(leaf, self.trailing, out)
                elif self.meta in leaf:
                    out.append((TargetKind.VALUE, leaf[self.meta]))
        return out


def _as_instances(found: Any) -> list[dict[str, Any]]:
    """Attribute instances as a list, whether stored as a list (top level) or one object (sub-attribute)."""
    if isinstance(found, list):
        return [item for item in found if isinstance(item, dict)]
    return [found] if isinstance(found, dict) else []


def _descend(instance: dict[str, Any], sub_attributes: tuple[str, ...]) -> Iterator[dict[str, Any]]:
    """The instances reached by following sub-attribute IRIs from an attribute instance."""
    if not sub_attributes:
        yield instance
        return
    subs = instance.get("attrs")
    if not isinstance(subs, dict):
        return
    for sub in _as_instances(subs.get(sub_attributes[0])):
        yield from _descend(sub, sub_attributes[1:])


def _content(
    instance: dict[str, Any], trailing: tuple[str, ...] | None, out: list[tuple[TargetKind, Any]]
) -> None:
    """Append the target value(s) of one instance by its NGSI-LD kind, following a trailing path if given."""
    kind = instance.get("type")
    if kind == "Property" or kind == "GeoProperty":  # the common case first
        if "value" in instance:
            if trailing is None:
                out.append((TargetKind.VALUE, instance["value"]))
            else:
                out.extend((TargetKind.VALUE, value) for value in _walk(instance["value"], trailing))
    elif kind == "Relationship":
        if trailing is None and "object" in instance:
            out.append((TargetKind.OBJECT, instance["object"]))
    elif kind == "ListRelationship":
        if trailing is None and isinstance(instance.get("objectList"), list):
            out.append((TargetKind.OBJECT, [_object_of(item) for item in instance["objectList"]]))
    elif kind == "LanguageProperty":
        strings = _language_strings(instance.get("languageMap"), trailing)
        if strings is not None:
            out.append((TargetKind.LANGUAGE, strings))
    elif kind == "VocabProperty":
        if trailing is None and "vocab" in instance:
            out.append((TargetKind.VOCAB, instance["vocab"]))
    else:
        member = {"ListProperty": "valueList", "JsonProperty": "json"}.get(str(kind), "value")
        if member in instance:
            out.extend((TargetKind.VALUE, value) for value in _walk(instance[member], trailing or ()))


def _object_of(item: Any) -> Any:
    """One ListRelationship element: a URI, or an object holding it in `object` / `@id`."""
    if isinstance(item, dict):
        return item.get("object", item.get("@id"))
    return item


def _language_strings(language_map: Any, trailing: tuple[str, ...] | None) -> list[Any] | None:
    """The strings of the requested language (every language without `[lang]` or with `[*]`)."""
    if not isinstance(language_map, dict):
        return None
    if trailing is None or trailing == (ANY_LANGUAGE,):
        chosen = list(language_map.values())
    elif len(trailing) == 1 and trailing[0] in language_map:
        chosen = [language_map[trailing[0]]]
    else:
        return None
    flat: list[Any] = []
    for strings in chosen:
        flat.extend(strings if isinstance(strings, list) else [strings])
    return flat


def _walk(value: Any, keys: tuple[str, ...]) -> Iterator[Any]:
    """Evaluate a dotted member expression on a JSON value; on arrays, every element is tried."""
    if not keys:
        yield value
        return
    if isinstance(value, dict):
        if keys[0] in value:
            yield from _walk(value[keys[0]], keys[1:])
    elif isinstance(value, list):
        for element in value:
            if isinstance(element, dict) and keys[0] in element:
                yield from _walk(element[keys[0]], keys[1:])
