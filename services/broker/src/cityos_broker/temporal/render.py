"""Temporal representations: normalized (instances), temporalValues (simplified) and aggregatedValues."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from cityos_broker.ngsild.attribute import CONTENT_MEMBER
from cityos_broker.ngsild.contexts import TermMap
from cityos_broker.ngsild.render import RenderOptions, render_entity
from cityos_broker.temporal.aggregate import aggregate
from cityos_broker.temporal.changes import Instance
from cityos_broker.temporal.params import TemporalQuery
from cityos_broker.temporal.timeutil import from_ms

Points = Sequence[tuple[float, Instance]]
# Clause 4.5.9 (simplified temporal representation): the member holding the [content, time] pairs.
_VALUES_MEMBER = {
    "Property": "values",
    "GeoProperty": "values",
    "Relationship": "objects",
    "LanguageProperty": "languageMaps",
    "VocabProperty": "vocabs",
    "ListProperty": "valueLists",
    "ListRelationship": "objectLists",
    "JsonProperty": "jsons",
}


def _content(instance: Instance, terms: TermMap) -> Any:
    kind = instance.get("type", "Property")
    content = instance.get(CONTENT_MEMBER.get(kind, "value"))
    if kind == "VocabProperty":
        return (
            [terms.compact_vocab(v) for v in content]
            if isinstance(content, list)
            else terms.compact_vocab(str(content))
        )
    return content


def _by_dataset(points: Points) -> dict[str | None, list[tuple[float, Instance]]]:
    groups: dict[str | None, list[tuple[float, Instance]]] = {}
    for at, instance in points:
        groups.setdefault(instance.get("datasetId"), []).append((at, instance))
    return groups


def _grouped(objects: list[dict[str, Any]]) -> Any:
    return objects[0] if len(objects) == 1 else objects


def _time_text(at: float, instance: Instance, query: TemporalQuery) -> str:
    text = instance.get(query.time_property)
    return text if isinstance(text, str) else from_ms(at)


def _temporal_values(points: Points, terms: TermMap, query: TemporalQuery) -> Any:
    objects = []
    for dataset, group in _by_dataset(points).items():
        kind = group[-1][1].get("type", "Property")
        out: dict[str, Any] = {"type": kind}
        if dataset is not None:
            out["datasetId"] = dataset
        out[_VALUES_MEMBER.get(kind, "values")] = [
            [_content(instance, terms), _time_text(at, instance, query)] for at, instance in group
        ]
        objects.append(out)
    return _grouped(objects)


def _aggregated(points: Points, terms: TermMap, query: TemporalQuery) -> Any:
    objects = []
    for dataset, group in _by_dataset(points).items():
        out: dict[str, Any] = {"type": group[-1][1].get("type", "Property")}
        if dataset is not None:
            out["datasetId"] = dataset
        values = [(at, _content(instance, terms)) for at, instance in group]
        out.update(aggregate(values, query.window, query.period, query.methods))
        objects.append(out)
    return _grouped(objects)


def render_temporal(
    state: Mapping[str, Any],
    points: Mapping[str, Points],
    terms: TermMap,
    options: RenderOptions,
    query: TemporalQuery,
) -> dict[str, Any]:
    """One temporal entity: id, type and scope from its latest state, attribute instances in time order."""
    if options.dataset_id is not None:
        wanted = options.dataset_id
        points = {
            iri: [(at, i) for at, i in pts if i.get("datasetId", "@none") in wanted]
            for iri, pts in points.items()
        }
    attrs = {iri: [instance for _, instance in pts] for iri, pts in points.items() if pts}
    skeleton = {"id": state["id"], "type": state.get("type") or [], "attrs": attrs}
    if state.get("scope"):
        skeleton["scope"] = state["scope"]
    if query.mode == "normalized":
        normalized = RenderOptions(
            format="normalized",
            sys_attrs=options.sys_attrs,
            lang=options.lang,
        )
        out = render_entity(skeleton, terms, normalized)
        for iri, instances in attrs.items():
            name = terms.compact(iri)
            rendered = out.get(name)
            if rendered is None:
                continue
            items = rendered if isinstance(rendered, list) else [rendered]
            for item, instance in zip(items, instances, strict=False):
                if "instanceId" in instance:
                    item["instanceId"] = instance["instanceId"]
                if "deletedAt" in instance:
                    item["deletedAt"] = instance["deletedAt"]
            out[name] = items
        return out
    out = render_entity({**skeleton, "attrs": {}}, terms, RenderOptions(format="normalized"))
    for iri, pts in points.items():
        if not pts:
            continue
        render = _aggregated if query.mode == "aggregatedValues" else _temporal_values
        out[terms.compact(iri)] = render(pts, terms, query)
    return out
