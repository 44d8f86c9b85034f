"""Subscription documents (ETSI GS CIM 009 5.2.12): validate a request's members into the stored form.

The stored form keeps every term expanded with the request's @context (entity types, watchedAttributes,
notification.attributes, geoQ.geoproperty). `q` keeps its text together with the @context it was written
against (`qContext`), since the q language has no expanded serialisation; notifications are compacted
with `jsonldContext` (the subscription's own context unless the member names another).
"""

from __future__ import annotations

import re
import uuid
from collections.abc import Callable, Mapping
from datetime import datetime
from typing import Any

from cityos_runtime.problems import ProblemError

from cityos_broker.ngsild.contexts import TermMap
from cityos_broker.ngsild.entity import validate_entity_id
from cityos_broker.query import compile_q, parse_geo_query, parse_scope_query, parse_type_expression
from cityos_broker.query.filter import EntityFilter

Stored = dict[str, Any]
FORMATS = ("normalized", "concise", "keyValues")
ACCEPTS = ("application/json", "application/ld+json", "application/geo+json")
TRIGGERS = (
    "entityCreated",
    "entityUpdated",
    "entityDeleted",
    "attributeCreated",
    "attributeUpdated",
    "attributeDeleted",
)
DEFAULT_TRIGGERS = ("attributeCreated", "attributeUpdated")
SCHEMES = ("http", "https", "mqtt", "mqtts")
MQTT_QOS_KEY = "MQTT-QoS"
# Members the broker maintains; a client may send them back (e.g. a retrieved document) and they are ignored.
SYSTEM_MEMBERS = frozenset({"@context", "status", "createdAt", "modifiedAt", "origin", "activeSince"})
NOTIFICATION_STATUS_MEMBERS = frozenset(
    {"status", "timesSent", "timesFailed", "lastNotification", "lastSuccess", "lastFailure"}
)
_TYPE_TOKEN = re.compile(r"[^\s,;|()\"<>{}\[\]\\^`]+")
_MAX_TEXT = 4096


def bad(detail: str) -> ProblemError:
    """A 400 BadRequestData problem about a subscription member."""
    return ProblemError("BadRequestData", detail)


def new_subscription_id() -> str:
    """A fresh subscription id."""
    return f"urn:ngsi-ld:Subscription:{uuid.uuid4()}"


def parse_time(value: object, member: str) -> str:
    """An ISO 8601 date-time member, returned as given; ProblemError when it is not one."""
    if not isinstance(value, str):
        raise bad(f"{member} must be an ISO 8601 date-time string")
    try:
        parsed = datetime.fromisoformat(value.replace("Z", "+00:00"))
    except ValueError:
        raise bad(f"{member} {value[:60]!r} is not an ISO 8601 date-time") from None
    if parsed.tzinfo is None:
        raise bad(f"{member} {value[:60]!r} must carry a time zone (e.g. a trailing Z)")
    return value


def epoch_seconds(timestamp: str) -> float:
    """Seconds since the epoch of a validated ISO 8601 date-time."""
    return datetime.fromisoformat(timestamp.replace("Z", "+00:00")).timestamp()


def _text(value: object, member: str) -> str:
    if not isinstance(value, str) or not value or len(value) > _MAX_TEXT:
        raise bad(f"{member} must be a non-empty string of at most {_MAX_TEXT} characters")
    return value


def _bool(value: object, member: str) -> bool:
    if not isinstance(value, bool):
        raise bad(f"{member} must be true or false")
    return value


def _positive(value: object, member: str) -> float:
    if isinstance(value, bool) or not isinstance(value, int | float) or not value > 0:
        raise bad(f"{member} must be a positive number of seconds")
    return float(value)


def _names(value: object, member: str, terms: TermMap) -> list[str]:
    if not isinstance(value, list) or not value or not all(isinstance(n, str) and n for n in value):
        raise bad(f"{member} must be a non-empty array of attribute names")
    return list(dict.fromkeys(terms.expand(n) for n in value))


def expand_type_expression(text: str, terms: TermMap) -> str:
    """A type expression with every type name expanded (validated first)."""
    parse_type_expression(text, terms.expand)
    return _TYPE_TOKEN.sub(lambda m: terms.expand(m.group(0)), text)


def _entities(value: object, terms: TermMap) -> list[dict[str, str]]:
    if not isinstance(value, list) or not value:
        raise bad("entities must be a non-empty array of entity selectors")
    selectors: list[dict[str, str]] = []
    for index, item in enumerate(value):
        where = f"entities[{index}]"
        if not isinstance(item, dict):
            raise bad(f"{where} must be an object with type and optionally id or idPattern")
        unknown = set(item) - {"id", "idPattern", "type"}
        if unknown:
            raise bad(f"{where} has unknown members {sorted(unknown)}")
        if "type" not in item:
            raise bad(f"{where} needs a type")
        if "id" in item and "idPattern" in item:
            raise bad(f"{where} must not give both id and idPattern")
        selector = {"type": expand_type_expression(_text(item["type"], f"{where}.type"), terms)}
        if "id" in item:
            selector["id"] = validate_entity_id(item["id"])
        if "idPattern" in item:
            pattern = _text(item["idPattern"], f"{where}.idPattern")
            EntityFilter.build(id_pattern=pattern, expand=terms.expand, require_selector=False)
            selector["idPattern"] = pattern
        selectors.append(selector)
    return selectors


def _key_values(value: object, member: str) -> list[dict[str, str]]:
    if not isinstance(value, list):
        raise bad(f"{member} must be an array of {{key, value}} objects")
    pairs: list[dict[str, str]] = []
    for index, item in enumerate(value):
        if not (
            isinstance(item, dict)
            and set(item) == {"key", "value"}
            and isinstance(item["key"], str)
            and item["key"]
            and isinstance(item["value"], str)
        ):
            raise bad(f"{member}[{index}] must be an object with string members key and value only")
        if any(c in item["key"] + item["value"] for c in "\r\n"):
            raise bad(f"{member}[{index}] must not contain line breaks")
        pairs.append({"key": item["key"], "value": item["value"]})
    return pairs


def _endpoint(value: object) -> dict[str, Any]:
    if not isinstance(value, dict):
        raise bad("notification.endpoint must be an object with a uri")
    unknown = set(value) - {"uri", "accept", "receiverInfo", "notifierInfo", "timeout", "cooldown"}
    if unknown:
        raise bad(f"notification.endpoint has unknown members {sorted(unknown)}")
    uri = _text(value.get("uri"), "notification.endpoint.uri")
    scheme = uri.split(":", 1)[0].lower() if ":" in uri else ""
    if scheme not in SCHEMES:
        raise bad(f"notification.endpoint.uri must be an http, https, mqtt or mqtts URI, got {uri[:80]!r}")
    endpoint: dict[str, Any] = {"uri": uri, "accept": value.get("accept", "application/json")}
    if endpoint["accept"] not in ACCEPTS:
        raise bad(f"notification.endpoint.accept must be one of {', '.join(ACCEPTS)}")
    if "receiverInfo" in value:
        endpoint["receiverInfo"] = _key_values(value["receiverInfo"], "notification.endpoint.receiverInfo")
    if "notifierInfo" in value:
        info = _key_values(value["notifierInfo"], "notification.endpoint.notifierInfo")
        for pair in info:
            if pair["key"] == MQTT_QOS_KEY and pair["value"] not in ("0", "1", "2"):
                raise bad("notifierInfo MQTT-QoS must be 0, 1 or 2")
        endpoint["notifierInfo"] = info
    if scheme.startswith("mqtt") and not uri.split("://", 1)[-1].partition("/")[2]:
        raise bad("an MQTT endpoint names its topic in the URI path (mqtt://host:1883/some/topic)")
    return endpoint


def _notification(value: object, terms: TermMap, current: Stored | None) -> dict[str, Any]:
    if not isinstance(value, dict):
        raise bad("notification must be an object with an endpoint")
    allowed = {"attributes", "format", "showChanges", "sysAttrs", "endpoint"} | NOTIFICATION_STATUS_MEMBERS
    unknown = set(value) - allowed
    if unknown:
        raise bad(f"notification has unknown members {sorted(unknown)}")
    out: dict[str, Any] = dict(current or {})  # a PATCH replaces the members it names
    if "attributes" in value:
        out["attributes"] = _names(value["attributes"], "notification.attributes", terms)
    if "format" in value:
        if value["format"] not in FORMATS:
            raise bad(f"notification.format must be one of {', '.join(FORMATS)}")
        out["format"] = value["format"]
    for flag in ("showChanges", "sysAttrs"):
        if flag in value:
            out[flag] = _bool(value[flag], f"notification.{flag}")
    if "endpoint" in value:
        out["endpoint"] = _endpoint(value["endpoint"])
    if "endpoint" not in out:
        raise bad("notification.endpoint is required")
    out.setdefault("format", "normalized")
    return out


def _geo_q(value: object, terms: TermMap) -> dict[str, Any]:
    if not isinstance(value, dict):
        raise bad("geoQ must be an object with georel, geometry and coordinates")
    georel, geometry = value.get("georel"), value.get("geometry")
    coordinates, prop = value.get("coordinates"), value.get("geoproperty", "location")
    if not isinstance(georel, str) or not isinstance(geometry, str) or not isinstance(prop, str):
        raise bad("geoQ.georel, geoQ.geometry and geoQ.geoproperty must be strings")
    if not isinstance(coordinates, str | list):
        raise bad("geoQ.coordinates must be an array or a string")
    parse_geo_query(georel, geometry, coordinates, prop, terms.expand)
    return {
        "georel": georel,
        "geometry": geometry,
        "coordinates": coordinates,
        "geoproperty": terms.expand(prop),
    }


def _members(doc: Mapping[str, Any], terms: TermMap, current: Stored | None) -> Stored:
    """Validate and expand every member a request gives (creation or PATCH fragment)."""
    out: Stored = {}
    parsers: dict[str, Callable[[object], Any]] = {
        "subscriptionName": lambda v: _text(v, "subscriptionName"),
        "description": lambda v: _text(v, "description"),
        "entities": lambda v: _entities(v, terms),
        "watchedAttributes": lambda v: _names(v, "watchedAttributes", terms),
        "scopeQ": lambda v: parse_scope_query(_text(v, "scopeQ")).text,
        "geoQ": lambda v: _geo_q(v, terms),
        "throttling": lambda v: _positive(v, "throttling"),
        "timeInterval": lambda v: _positive(v, "timeInterval"),
        "expiresAt": lambda v: parse_time(v, "expiresAt"),
        "isActive": lambda v: _bool(v, "isActive"),
        "lang": lambda v: _text(v, "lang"),
        "jsonldContext": lambda v: _text(v, "jsonldContext"),
    }
    for name, value in doc.items():
        if name in SYSTEM_MEMBERS or name in ("id", "type"):
            continue
        if name not in parsers and name not in ("q", "notificationTrigger", "notification"):
            # Also internal members (the owner): a client can neither set nor remove them.
            raise bad(f"unknown subscription member {name!r}")
        if value is None and current is not None and name not in ("notification", "entities"):
            out[name] = None  # merge-patch: a null removes the member
        elif name in parsers:
            out[name] = parsers[name](value)
        elif name == "q":
            compile_q(_text(value, "q"), terms.expand)
            out["q"], out["qContext"] = value, terms.context_value
        elif name == "notificationTrigger":
            if not isinstance(value, list) or not value or not set(value) <= set(TRIGGERS):
                raise bad(f"notificationTrigger must be a non-empty array of {', '.join(TRIGGERS)}")
            out[name] = list(dict.fromkeys(value))
        else:
            out[name] = _notification(value, terms, (current or {}).get("notification"))
    return out


def check_whole(sub: Stored) -> None:
    """Rules across members (5.2.12): what must be present and what must not be combined."""
    if "notification" not in sub:
        raise bad("a subscription needs a notification member")
    if not sub.get("entities") and not sub.get("watchedAttributes"):
        raise bad("a subscription needs entities or watchedAttributes (or both)")
    if sub.get("timeInterval") is not None and sub.get("watchedAttributes"):
        raise bad("timeInterval and watchedAttributes must not both be given")
    if sub.get("timeInterval") is not None and sub.get("throttling") is not None:
        raise bad("timeInterval and throttling must not both be given")


def parse_subscription(doc: Mapping[str, Any], terms: TermMap, now: str) -> Stored:
    """A new subscription in stored form; ProblemError BadRequestData on any invalid member."""
    if doc.get("type") != "Subscription":
        raise bad("a subscription's type must be 'Subscription'")
    sub_id = validate_entity_id(doc["id"]) if "id" in doc else new_subscription_id()
    sub: Stored = {"id": sub_id, "type": "Subscription"}
    sub.update(_members(doc, terms, None))
    sub.setdefault("isActive", True)
    sub.setdefault("jsonldContext", terms.context_value)
    sub["createdAt"] = sub["modifiedAt"] = now
    sub["activeSince"] = now  # changes made before are not notified, even when matched later
    check_whole(sub)
    return sub


def merge_subscription(current: Stored, fragment: Mapping[str, Any], terms: TermMap, now: str) -> Stored:
    """A PATCH fragment merged into a stored subscription (members given replace, null removes)."""
    if "id" in fragment and fragment["id"] != current["id"]:
        raise bad("the fragment's id differs from the subscription id")
    if "type" in fragment and fragment["type"] != "Subscription":
        raise bad("a subscription's type must be 'Subscription'")
    changes = _members(fragment, terms, current)
    if not changes:
        raise bad("the fragment changes no subscription member")
    merged = {**current, **changes, "modifiedAt": now}
    if changes.get("isActive") is True and current.get("isActive") is False:
        merged["activeSince"] = now  # changes made while paused are not notified
    if "q" in changes and changes["q"] is None:
        merged.pop("qContext", None)
    merged = {k: v for k, v in merged.items() if v is not None}
    check_whole(merged)
    return merged
