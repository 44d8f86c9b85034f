"""Matching change events against subscriptions: triggers, watched attributes, selectors, q, activity."""

from __future__ import annotations

from typing import Any

import pytest
from cityos_broker.ngsild.contexts import TermMap
from cityos_broker.subscriptions.matcher import ChangeEvent, compile_subscription, occurred_triggers
from cityos_broker.subscriptions.model import parse_subscription

NOW = "2026-11-22T03:00:00.000000Z"
EARLIER = "2026-11-22T02:00:00.000000Z"
LATER = "2026-11-22T04:00:00.000000Z"
DEFAULT = "https://uri.etsi.org/ngsi-ld/default-context/"
SPEED = "https://example.org/vocab#speed"
CAR = "https://example.org/types#Car"


def entity(
    speed: float | None = None, colour: str | None = None, *, eid: str = "urn:ngsi-ld:Car:1"
) -> dict[str, Any]:
    attrs: dict[str, Any] = {}
    if speed is not None:
        attrs[SPEED] = [{"type": "Property", "value": speed}]
    if colour is not None:
        attrs[DEFAULT + "colour"] = [{"type": "Property", "value": colour}]
    return {"id": eid, "type": [CAR], "attrs": attrs}


def event(before: dict[str, Any] | None, after: dict[str, Any] | None, at: str = LATER) -> ChangeEvent:
    op = "create" if before is None else "delete" if after is None else "update"
    current = after or before or {}
    return ChangeEvent("1-0", op, current.get("id", ""), before, after, at)


def compiled(user: TermMap, **members: Any) -> Any:
    doc: dict[str, Any] = {
        "type": "Subscription",
        "entities": [{"type": "Car"}],
        "notification": {"endpoint": {"uri": "http://h.example/"}},
    }
    doc.update(members)
    return compile_subscription(parse_subscription(doc, user, NOW), user)


def test_triggers_of_each_kind_of_change() -> None:
    assert occurred_triggers(None, entity(1), None) == {"entityCreated", "attributeCreated"}
    assert occurred_triggers(entity(1), entity(2), None) == {"entityUpdated", "attributeUpdated"}
    assert occurred_triggers(entity(1), entity(1, "red"), None) == {"entityUpdated", "attributeCreated"}
    assert occurred_triggers(entity(1, "red"), entity(1), None) == {"entityUpdated", "attributeDeleted"}
    assert occurred_triggers(entity(1), None, None) == {"entityDeleted", "attributeDeleted"}
    assert occurred_triggers(entity(1), entity(1), None) == set()


def test_watched_attributes_restrict_the_triggers() -> None:
    watched = frozenset({SPEED})
    assert occurred_triggers(entity(1), entity(1, "red"), watched) == set()
    assert occurred_triggers(entity(1, "red"), entity(2, "red"), watched) == {
        "entityUpdated",
        "attributeUpdated",
    }
    assert occurred_triggers(None, entity(None, "red"), watched) == set()


def test_default_triggers_notify_creation_and_updates_not_deletion(user: TermMap) -> None:
    sub = compiled(user)
    assert sub.matches(event(None, entity(1)))
    assert sub.matches(event(entity(1), entity(2)))
    assert not sub.matches(event(entity(1), None))
    assert compiled(user, notificationTrigger=["entityDeleted"]).matches(event(entity(1), None))


def test_selectors_q_and_scope(user: TermMap) -> None:
    sub = compiled(user, q="speed>50", entities=[{"type": "Car", "idPattern": "urn:ngsi-ld:Car:[0-9]+"}])
    assert sub.matches(event(entity(1), entity(60)))
    assert not sub.matches(event(entity(1), entity(40)))
    assert not sub.matches(event(entity(1, eid="urn:ngsi-ld:Car:x"), entity(60, eid="urn:ngsi-ld:Car:x")))
    other_type = {"id": "urn:ngsi-ld:Car:2", "type": [DEFAULT + "Bus"], "attrs": entity(60)["attrs"]}
    assert not sub.matches(event(None, other_type))
    scoped = compiled(user, scopeQ="/Hokkaido/#")
    assert not scoped.matches(event(None, entity(1)))
    assert scoped.matches(event(None, {**entity(1), "scope": ["/Hokkaido/Sapporo"]}))


def test_q_uses_the_terms_it_was_written_with(user: TermMap, core: TermMap) -> None:
    sub = compile_subscription(
        parse_subscription(
            {
                "type": "Subscription",
                "entities": [{"type": CAR}],
                "q": "speed>5",
                "notification": {"endpoint": {"uri": "http://h.example/"}},
            },
            user,
            NOW,
        ),
        user,
    )
    assert sub.matches(event(entity(1), entity(6)))  # speed resolved to example.org/vocab#speed, not core


def test_events_before_activation_and_inactive_subscriptions(user: TermMap) -> None:
    sub = compiled(user)
    assert not sub.matches(event(None, entity(1), at=EARLIER))
    assert compiled(user, isActive=False).active() is False
    assert compiled(user, expiresAt="2000-01-01T00:00:00Z").active() is False
    assert compiled(user, expiresAt="2999-01-01T00:00:00Z").active() is True


def test_periodic_subscriptions_ignore_changes(user: TermMap) -> None:
    sub = compiled(user, timeInterval=10)
    assert sub.periodic and not sub.matches(event(None, entity(1)))


@pytest.mark.parametrize("georel", ["near;maxDistance==1000", "within"])
def test_geo_q(user: TermMap, georel: str) -> None:
    geometry = "Point" if georel.startswith("near") else "Polygon"
    coordinates: Any = (
        [141.35, 43.06] if geometry == "Point" else [[[141, 43], [142, 43], [142, 44], [141, 44], [141, 43]]]
    )
    sub = compiled(user, geoQ={"georel": georel, "geometry": geometry, "coordinates": coordinates})
    here = {
        **entity(1),
        "attrs": {
            "https://uri.etsi.org/ngsi-ld/location": [
                {"type": "GeoProperty", "value": {"type": "Point", "coordinates": [141.351, 43.061]}}
            ]
        },
    }
    far = {
        **entity(1),
        "attrs": {
            "https://uri.etsi.org/ngsi-ld/location": [
                {"type": "GeoProperty", "value": {"type": "Point", "coordinates": [135.5, 34.7]}}
            ]
        },
    }
    assert sub.matches(event(None, here))
    assert not sub.matches(event(None, far))
