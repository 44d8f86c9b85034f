"""Notification documents: a stable id per (subscription, event), the data rendered as the subscription asks.

Data comes from `ngsild.render` (the same renderer as queries), compacted with the subscription's
`jsonldContext`; the renderer keeps only `notification.attributes` (all attributes when none are named).
The entities given are already what the owner may read (`policy.OwnerView`).
"""

from __future__ import annotations

import hashlib
import uuid
from dataclasses import dataclass
from typing import Any

import orjson

from cityos_broker.ngsild.attribute import CONTENT_MEMBER
from cityos_broker.ngsild.contexts import CORE_CONTEXT_URL, TermMap
from cityos_broker.ngsild.render import RenderOptions, render_entities, render_geojson, with_context
from cityos_broker.subscriptions.model import Stored

Entity = dict[str, Any]
_PREVIOUS = {
    "value": "previousValue",
    "object": "previousObject",
    "languageMap": "previousLanguageMap",
    "vocab": "previousVocab",
    "valueList": "previousValueList",
    "objectList": "previousObjectList",
    "json": "previousJson",
}


def notification_id(subscription_id: str, event_key: str) -> str:
    """A stable notification id: the same subscription and event always give the same id (de-duplication)."""
    digest = hashlib.sha256(f"{subscription_id}\x00{event_key}".encode()).digest()
    return f"urn:ngsi-ld:Notification:{uuid.UUID(bytes=digest[:16], version=5)}"


@dataclass(frozen=True, slots=True)
class Outgoing:
    """A notification ready to send: its id, body and the headers its media type needs."""

    id: str
    body: bytes
    content_type: str
    link: str  # the @context Link for application/json bodies ("" for the core context)


def _with_previous(rendered: Entity, before: Entity | None, after: Entity, terms: TermMap) -> None:
    """showChanges: add the previous content to each changed default instance (normalized / concise)."""
    if not before:
        return
    old_attrs, new_attrs = before.get("attrs", {}), after.get("attrs", {})
    for iri, instances in new_attrs.items():
        previous = old_attrs.get(iri)
        name = terms.compact(iri)
        shown = rendered.get(name)
        if not previous or not isinstance(shown, dict) or len(instances) != 1 or len(previous) != 1:
            continue
        kind = previous[0].get("type", "Property")
        member = CONTENT_MEMBER.get(kind, "value")
        if previous[0].get(member) != instances[0].get(member):
            shown[_PREVIOUS[member]] = previous[0].get(member)


def _options(sub: Stored) -> RenderOptions:
    params = sub["notification"]
    attrs = params.get("attributes")
    return RenderOptions(
        format=params.get("format", "normalized"),
        sys_attrs=bool(params.get("sysAttrs", False)),
        attrs=frozenset(attrs) if attrs else None,
        lang=sub.get("lang"),
    )


def build_notification(
    sub: Stored,
    notification_key: str,
    entities: list[tuple[Entity | None, Entity]],
    terms: TermMap,
    notified_at: str,
    *,
    deleted: bool = False,
) -> Outgoing:
    """The notification of `entities` ((before, after) pairs) for `sub`, compacted with `terms`.

    A deletion notifies the entity's id and type only, with `deletedAt`.
    """
    options = _options(sub)
    accept = sub["notification"]["endpoint"].get("accept", "application/json")
    currents = [after for _, after in entities]
    data: Any
    if deleted:
        data = [{"id": e["id"], "type": _types(e, terms), "deletedAt": notified_at} for e in currents]
    elif accept == "application/geo+json":
        data = render_geojson(currents, terms, options)
    else:
        data = render_entities(currents, terms, options)
        if sub["notification"].get("showChanges") and options.format != "keyValues":
            for rendered, (before, after) in zip(data, entities, strict=True):
                _with_previous(rendered, before, after, terms)
    nid = notification_id(sub["id"], notification_key)
    doc: dict[str, Any] = {
        "id": nid,
        "type": "Notification",
        "subscriptionId": sub["id"],
        "notifiedAt": notified_at,
        "data": data,
    }
    link = ""
    if accept == "application/ld+json":
        doc = with_context(doc, terms)
    elif terms.link_url != CORE_CONTEXT_URL:
        link = terms.link_url
    return Outgoing(nid, orjson.dumps(doc), accept, link)


def _types(entity: Entity, terms: TermMap) -> Any:
    types = [terms.compact_vocab(t) for t in entity.get("type") or ()]
    return types[0] if len(types) == 1 else types
