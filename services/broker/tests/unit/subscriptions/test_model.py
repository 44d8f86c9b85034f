"""Subscription validation and PATCH merging (stored form, expanded terms, cross-member rules)."""

from __future__ import annotations

from typing import Any

import pytest
from cityos_broker.ngsild.contexts import TermMap
from cityos_broker.subscriptions.model import merge_subscription, parse_subscription
from cityos_runtime.problems import ProblemError

NOW = "2026-11-22T03:00:00.000000Z"
LATER = "2026-11-22T04:00:00.000000Z"
DEFAULT = "https://uri.etsi.org/ngsi-ld/default-context/"


def doc(**members: Any) -> dict[str, Any]:
    base: dict[str, Any] = {
        "type": "Subscription",
        "entities": [{"type": "Car"}],
        "notification": {"endpoint": {"uri": "https://hooks.example.org/n"}},
    }
    base.update(members)
    return base


def test_terms_are_stored_expanded_with_the_request_context(user: TermMap) -> None:
    sub = parse_subscription(
        doc(
            watchedAttributes=["speed", "other"],
            notification={"attributes": ["speed"], "endpoint": {"uri": "http://h.example/"}},
            q="speed>3",
        ),
        user,
        NOW,
    )
    assert sub["id"].startswith("urn:ngsi-ld:Subscription:")
    assert sub["entities"] == [{"type": "https://example.org/types#Car"}]
    assert sub["watchedAttributes"] == ["https://example.org/vocab#speed", DEFAULT + "other"]
    assert sub["notification"]["attributes"] == ["https://example.org/vocab#speed"]
    assert sub["notification"]["format"] == "normalized"
    assert sub["notification"]["endpoint"]["accept"] == "application/json"
    assert sub["q"] == "speed>3" and sub["qContext"] == "https://example.org/ctx.jsonld"
    assert sub["jsonldContext"] == "https://example.org/ctx.jsonld"
    assert sub["isActive"] is True and sub["createdAt"] == sub["activeSince"] == NOW


def test_type_expressions_expand_every_name(user: TermMap) -> None:
    sub = parse_subscription(doc(entities=[{"type": "(Car;Bus)|Tram"}]), user, NOW)
    assert sub["entities"][0]["type"] == (f"(https://example.org/types#Car;{DEFAULT}Bus)|{DEFAULT}Tram")


@pytest.mark.parametrize(
    ("members", "needle"),
    [
        ({"notification": None}, "notification"),
        ({"entities": None}, "entities"),
        ({"entities": [{"type": "Car", "id": "urn:a:1", "idPattern": ".*"}]}, "both id and idPattern"),
        ({"entities": [{"type": "Car", "id": "not a uri"}]}, "absolute URI"),
        ({"watchedAttributes": []}, "watchedAttributes"),
        ({"throttling": 0}, "throttling"),
        ({"timeInterval": True}, "timeInterval"),
        ({"expiresAt": "2026-11-22T03:00:00"}, "time zone"),
        ({"isActive": "yes"}, "isActive"),
        (
            {"notification": {"endpoint": {"uri": "http://h.example/", "receiverInfo": [{"key": "a"}]}}},
            "receiverInfo",
        ),
        (
            {
                "notification": {
                    "endpoint": {
                        "uri": "http://h.example/",
                        "receiverInfo": [{"key": "a", "value": "b\r\nX: y"}],
                    }
                }
            },
            "line breaks",
        ),
        ({"notification": {"endpoint": {"uri": "http://h.example/"}, "showChanges": 1}}, "showChanges"),
        ({"notification": {"endpoint": {"uri": "http://h.example/"}, "extra": 1}}, "extra"),
        ({"geoQ": {"georel": "within", "geometry": "Polygon", "coordinates": [[1, 2]]}}, ""),
    ],
)
def test_invalid_members(core: TermMap, members: dict[str, Any], needle: str) -> None:
    document = doc(**members)
    document = {k: v for k, v in document.items() if v is not None}
    with pytest.raises(ProblemError) as raised:
        parse_subscription(document, core, NOW)
    assert raised.value.kind == "BadRequestData" and needle in raised.value.detail


def test_watched_attributes_alone_are_enough(core: TermMap) -> None:
    document = doc(watchedAttributes=["speed"])
    del document["entities"]
    assert parse_subscription(document, core, NOW)["watchedAttributes"] == [DEFAULT + "speed"]


def test_system_members_in_input_are_ignored(core: TermMap) -> None:
    sub = parse_subscription(doc(status="expired", createdAt="1999-01-01T00:00:00Z"), core, NOW)
    assert sub["createdAt"] == NOW and "status" not in sub


def test_merge_replaces_named_members_and_null_removes(core: TermMap, user: TermMap) -> None:
    sub = parse_subscription(doc(q="speed>1", throttling=5, isActive=False), core, NOW)
    merged = merge_subscription(
        sub,
        {"q": None, "throttling": 10, "isActive": True, "notification": {"format": "concise"}},
        user,
        LATER,
    )
    assert "q" not in merged and "qContext" not in merged
    assert merged["throttling"] == 10.0
    assert merged["notification"]["format"] == "concise"
    assert merged["notification"]["endpoint"]["uri"] == "https://hooks.example.org/n"
    assert merged["modifiedAt"] == LATER and merged["createdAt"] == NOW
    assert merged["activeSince"] == LATER  # reactivated: changes made while paused are not notified


def test_merge_checks_the_whole_result(core: TermMap) -> None:
    sub = parse_subscription(doc(throttling=5), core, NOW)
    with pytest.raises(ProblemError, match="timeInterval and throttling"):
        merge_subscription(sub, {"timeInterval": 10}, core, LATER)
    with pytest.raises(ProblemError, match="changes no"):
        merge_subscription(sub, {}, core, LATER)
    with pytest.raises(ProblemError, match="differs"):
        merge_subscription(sub, {"id": "urn:other:1"}, core, LATER)
