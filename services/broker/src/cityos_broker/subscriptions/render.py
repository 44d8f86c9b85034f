"""Stored subscriptions as NGSI-LD documents, compacted with the reader's @context, with their status."""

from __future__ import annotations

import time
from typing import Any

from cityos_broker.ngsild.contexts import TermMap
from cityos_broker.subscriptions.model import Stored, epoch_seconds
from cityos_broker.subscriptions.store import Found

_TYPE_SEPARATORS = frozenset(",;|()")


def subscription_state(sub: Stored, now: float | None = None) -> str:
    """`active`, `paused` (isActive false) or `expired` (expiresAt passed)."""
    expires = sub.get("expiresAt")
    if expires and epoch_seconds(expires) <= (time.time() if now is None else now):
        return "expired"
    return "active" if sub.get("isActive", True) else "paused"


def _compact_types(expression: str, terms: TermMap) -> str:
    out: list[str] = []
    token: list[str] = []
    for char in expression + ",":
        if char in _TYPE_SEPARATORS or char.isspace():
            if token:
                out.append(terms.compact_vocab("".join(token)))
                token = []
            out.append(char)
        else:
            token.append(char)
    return "".join(out[:-1])


def render_subscription(found: Found, terms: TermMap, *, sys_attrs: bool = False) -> dict[str, Any]:
    """The subscription document a client reads (no @context member)."""
    sub, status = found.sub, found.status
    doc: dict[str, Any] = {"id": sub["id"], "type": "Subscription"}
    for member in ("subscriptionName", "description"):
        if member in sub:
            doc[member] = sub[member]
    if "entities" in sub:
        doc["entities"] = [
            {**selector, "type": _compact_types(selector["type"], terms)} for selector in sub["entities"]
        ]
    if "watchedAttributes" in sub:
        doc["watchedAttributes"] = [terms.compact(iri) for iri in sub["watchedAttributes"]]
    for member in ("notificationTrigger", "q", "scopeQ", "timeInterval", "throttling", "expiresAt", "lang"):
        if member in sub:
            doc[member] = sub[member]
    if "geoQ" in sub:
        doc["geoQ"] = {**sub["geoQ"], "geoproperty": terms.compact(sub["geoQ"]["geoproperty"])}
    doc["isActive"] = sub.get("isActive", True)
    doc["status"] = subscription_state(sub)
    doc["notification"] = _notification(sub["notification"], status, terms)
    if sub.get("jsonldContext") is not None:
        doc["jsonldContext"] = sub["jsonldContext"]
    if sys_attrs:
        doc["createdAt"], doc["modifiedAt"] = sub["createdAt"], sub["modifiedAt"]
    return doc


def _notification(params: dict[str, Any], status: dict[str, str], terms: TermMap) -> dict[str, Any]:
    out: dict[str, Any] = {}
    if "attributes" in params:
        out["attributes"] = [terms.compact(iri) for iri in params["attributes"]]
    out["format"] = params.get("format", "normalized")
    for flag in ("showChanges", "sysAttrs"):
        if flag in params:
            out[flag] = params[flag]
    out["endpoint"] = params["endpoint"]
    out["status"] = status.get("status", "ok")
    out["timesSent"] = int(status.get("timesSent", 0))
    out["timesFailed"] = int(status.get("timesFailed", 0))
    for member in ("lastNotification", "lastSuccess", "lastFailure"):
        if member in status:
            out[member] = status[member]
    return out
