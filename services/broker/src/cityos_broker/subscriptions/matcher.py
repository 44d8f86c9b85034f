"""Which change events a subscription is notified of: entity selectors, q, geoQ, scopeQ, watched attributes
and notification triggers. Pure code: the `query` package evaluates every selector (one q evaluator)."""

from __future__ import annotations

import time
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

import orjson

from cityos_broker.ngsild.contexts import TermMap
from cityos_broker.query import EntityFilter, compile_q, parse_geo_query
from cityos_broker.subscriptions.model import DEFAULT_TRIGGERS, Stored, epoch_seconds
from cityos_broker.usecases.querybuild import AnyOfFilter

Entity = dict[str, Any]


@dataclass(frozen=True, slots=True)
class ChangeEvent:
    """One entry of a tenant's change stream (written atomically with the entity by the store)."""

    entry_id: str
    op: str  # create | update | delete
    entity_id: str
    before: Entity | None
    after: Entity | None
    at: str
    traceparent: str = ""  # the writer's W3C trace context, when its span was recorded

    @classmethod
    def from_fields(cls, entry_id: str, fields: Mapping[bytes, bytes]) -> ChangeEvent:
        """Decode stream fields (bytes from redis-py, JSON stored forms)."""
        before, after = fields.get(b"before", b""), fields.get(b"after", b"")
        return cls(
            entry_id=entry_id,
            op=fields.get(b"op", b"").decode(),
            entity_id=fields.get(b"id", b"").decode(),
            before=orjson.loads(before) if before else None,
            after=orjson.loads(after) if after else None,
            at=fields.get(b"at", b"").decode(),
            traceparent=fields.get(b"tp", b"").decode(),
        )

    @property
    def current(self) -> Entity:
        """The entity the selectors are evaluated on: after the change, or as it was before a deletion."""
        entity = self.after if self.after is not None else self.before
        return entity if entity is not None else {"id": self.entity_id, "type": [], "attrs": {}}


def occurred_triggers(
    before: Entity | None, after: Entity | None, watched: frozenset[str] | None
) -> set[str]:
    """The notification triggers a change fires, considering only watched attributes when given."""
    old: Mapping[str, Any] = before.get("attrs", {}) if before else {}
    new: Mapping[str, Any] = after.get("attrs", {}) if after else {}

    def seen(names: set[str]) -> set[str]:
        return names if watched is None else names & watched

    created = seen(set(new) - set(old))
    deleted = seen(set(old) - set(new))
    updated = seen({name for name in set(old) & set(new) if old[name] != new[name]})
    fired: set[str] = set()
    if created:
        fired.add("attributeCreated")
    if updated:
        fired.add("attributeUpdated")
    if deleted:
        fired.add("attributeDeleted")
    if before is None and after is not None and (watched is None or seen(set(new))):
        fired.add("entityCreated")
    elif after is None and before is not None and (watched is None or seen(set(old))):
        fired.add("entityDeleted")
    elif before is not None and after is not None and (created or updated or deleted):
        fired.add("entityUpdated")
    return fired


def _same(term: str) -> str:
    return term


class CompiledSubscription:
    """A stored subscription compiled for matching; build with `compile_subscription`."""

    __slots__ = ("filter", "sub", "triggers", "watched")

    def __init__(
        self, sub: Stored, flt: AnyOfFilter, watched: frozenset[str] | None, triggers: frozenset[str]
    ) -> None:
        self.sub = sub
        self.filter = flt
        self.watched = watched
        self.triggers = triggers

    @property
    def id(self) -> str:
        return str(self.sub["id"])

    def active(self, now: float | None = None) -> bool:
        """Not paused and not expired."""
        if not self.sub.get("isActive", True):
            return False
        expires = self.sub.get("expiresAt")
        return not (expires and epoch_seconds(expires) <= (time.time() if now is None else now))

    @property
    def periodic(self) -> bool:
        """A timeInterval subscription: notified on its period, not on changes."""
        return self.sub.get("timeInterval") is not None

    def matches(self, event: ChangeEvent) -> bool:
        """True when the change must be notified (ignores activity and throttling)."""
        if self.periodic:
            return False
        # Broker timestamps share one format, so string order is time order.
        if event.at and event.at < self.sub.get("activeSince", ""):
            return False
        if self.triggers.isdisjoint(occurred_triggers(event.before, event.after, self.watched)):
            return False
        return self.filter.matches(event.current)


def compile_subscription(sub: Stored, q_terms: TermMap) -> CompiledSubscription:
    """Compile a stored subscription; `q_terms` is the term map of its `qContext` (stored terms are IRIs)."""
    geo = None
    if "geoQ" in sub:
        g = sub["geoQ"]
        geo = parse_geo_query(g["georel"], g["geometry"], g["coordinates"], g["geoproperty"], _same)
    selectors = sub.get("entities") or [{}]
    filters = [
        EntityFilter.build(
            ids=[selector["id"]] if "id" in selector else [],
            id_pattern=selector.get("idPattern", ""),
            type_expression=selector.get("type", ""),
            scope_q=sub.get("scopeQ", ""),
            geo=geo,
            expand=_same,
            require_selector=False,
        )
        for selector in selectors
    ]
    if sub.get("q"):
        # q is kept as written: compile it with its own context (the selectors above hold IRIs already).
        compiled_q = compile_q(sub["q"], q_terms.expand)
        for flt in filters:
            flt.q = compiled_q
    watched = frozenset(sub["watchedAttributes"]) if sub.get("watchedAttributes") else None
    triggers = frozenset(sub.get("notificationTrigger") or DEFAULT_TRIGGERS)
    return CompiledSubscription(sub, AnyOfFilter(filters), watched, triggers)
