"""What a subscription's owner may read: types, attributes, tenant state; events matched on that view."""

from __future__ import annotations

from typing import Any

from cityos_broker.ngsild.contexts import TermMap
from cityos_broker.subscriptions.matcher import ChangeEvent, compile_subscription
from cityos_broker.subscriptions.model import parse_subscription
from cityos_broker.subscriptions.policy import OWNER, OwnerView
from cityos_runtime.access_policies import TenantPolicies, TypeRule

NOW = "2026-11-22T03:00:00.000000Z"
VOCAB = "https://uri.etsi.org/ngsi-ld/default-context/"
LOCATION = "https://uri.etsi.org/ngsi-ld/location"


def gauge(level: float, secret: str = "s", kind: str = "Gauge") -> dict[str, Any]:
    return {
        "id": f"urn:ngsi-ld:{kind}:1",
        "type": [VOCAB + kind],
        "attrs": {
            VOCAB + "level": [{"type": "Property", "value": level}],
            VOCAB + "secret": [{"type": "Property", "value": secret}],
            LOCATION: [{"type": "GeoProperty", "value": {"type": "Point", "coordinates": [141.3, 43.0]}}],
        },
    }


def subscription(core: TermMap, owner: str | None = "app", **members: Any) -> dict[str, Any]:
    doc = {
        "type": "Subscription",
        "entities": [{"type": "Gauge"}],
        "notification": {"endpoint": {"uri": "http://h.example/"}},
        **members,
    }
    sub = parse_subscription(doc, core, NOW)
    if owner is not None:
        sub[OWNER] = owner
    return sub


def view(core: TermMap, *rules: TypeRule, state: str = "active") -> OwnerView:
    return OwnerView(TenantPolicies("citya", True, state, rules), core)


def read(client: str, *types: str, attributes: tuple[str, ...] = ()) -> TypeRule:
    return TypeRule(client, frozenset(types), True, False, frozenset(attributes))


def update(before: dict[str, Any], after: dict[str, Any]) -> ChangeEvent:
    return ChangeEvent("1-0", "update", after["id"], before, after, NOW)


def test_without_rules_or_owner_or_identity_the_tenant_data_is_seen(core: TermMap) -> None:
    entity = gauge(1)
    assert view(core).visible(subscription(core), entity) is entity
    limited = view(core, read("*", "Camera"))
    assert limited.visible(subscription(core, owner=None), entity) is entity  # no owner: as before owners
    assert OwnerView(None).visible(subscription(core), entity) is entity  # no identity service


def test_types_the_owner_may_not_read_are_invisible(core: TermMap) -> None:
    owners = view(core, read("app", "Gauge"), read("other", "Camera"))
    assert owners.visible(subscription(core), gauge(1)) == gauge(1)
    assert owners.visible(subscription(core), gauge(1, kind="Camera")) is None
    assert owners.visible(subscription(core, owner="other"), gauge(1)) is None
    everyone = view(core, read("*", "Camera"))
    assert everyone.visible(subscription(core), gauge(1)) is None


def test_attribute_rules_project_the_entity(core: TermMap) -> None:
    owners = view(core, read("app", "Gauge", attributes=("level", "location")))
    seen = owners.visible(subscription(core), gauge(1))
    assert seen is not None and set(seen["attrs"]) == {VOCAB + "level", LOCATION}


def test_a_suspended_or_deleted_tenant_shows_nothing(core: TermMap) -> None:
    for state in ("suspended", "deleted"):
        owners = view(core, state=state)
        assert not owners.serving
        assert owners.visible(subscription(core, owner=None), gauge(1)) is None


def test_hidden_attributes_neither_trigger_nor_select(core: TermMap) -> None:
    owners = view(core, read("app", "Gauge", attributes=("level",)))
    watching = subscription(core, watchedAttributes=["secret"])
    seen = owners.event(watching, update(gauge(1, "a"), gauge(1, "b")))
    assert seen is not None and not compile_subscription(watching, core).matches(seen)
    querying = subscription(core, q='secret=="b"')
    seen = owners.event(querying, update(gauge(1, "a"), gauge(2, "b")))
    assert seen is not None and not compile_subscription(querying, core).matches(seen)
    # What the owner may read still notifies, without the hidden attribute.
    plain = subscription(core)
    seen = owners.event(plain, update(gauge(1), gauge(2)))
    assert seen is not None and compile_subscription(plain, core).matches(seen)
    assert seen.after is not None and set(seen.after["attrs"]) == {VOCAB + "level"}


def test_an_event_of_a_forbidden_type_is_not_seen(core: TermMap) -> None:
    owners = view(core, read("app", "Gauge"))
    camera = subscription(core, entities=[{"type": "Camera"}])
    assert owners.event(camera, update(gauge(1, kind="Camera"), gauge(2, kind="Camera"))) is None
