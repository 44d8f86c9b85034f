"""NGSILD-Results-Count from the indexes equals the count of walking and testing every match."""

from __future__ import annotations

from typing import Any

import pytest
from cityos_broker.ngsild.contexts import core_term_map
from cityos_broker.query.filter import EntityFilter
from cityos_broker.store import Store
from cityos_broker.store.counting import index_count
from cityos_broker.store.keys import TenantKeys

pytestmark = pytest.mark.integration

SIZE = 400


def _level(n: int) -> float:
    return n / 2 if n % 3 else n // 2  # floats and integers, several entities per value


async def _load(store: Store, tenant: str) -> None:
    terms = core_term_map()
    for n in range(SIZE):
        attrs: dict[str, Any] = {}
        if n % 11:  # every 11th entity has no level at all
            attrs[terms.expand("level")] = [{"type": "Property", "value": _level(n)}]
        kind = "Pump" if n % 5 == 0 else "Gauge"  # two types share the level index
        if kind == "Gauge":
            attrs[terms.expand("depth")] = [{"type": "Property", "value": n}]  # only Gauges have depth
        entity = {"id": f"urn:c:{n:05d}", "type": [terms.expand(kind)], "attrs": attrs}
        await store.entities.create(tenant, entity)


async def _walked_total(store: Store, tenant: str, flt: EntityFilter, monkeypatch: pytest.MonkeyPatch) -> int:
    """The count the store reaches by reading and testing every match (the index count switched off)."""
    with monkeypatch.context() as patch:
        patch.setattr(EntityFilter, "count_plan", lambda self: None)
        _, total = await store.entities.query(tenant, flt, limit=1, count=True)
    assert total is not None
    return total


@pytest.mark.parametrize("type_", ["", "Gauge", "Pump"])
@pytest.mark.parametrize(
    "q",
    [
        "level>50",
        "level>=50",
        "level<50",
        "level<=50",
        "level==50",
        "level==50.5",
        "level==20..40.5",
        "level>199.5",
        "level>-1",
        "depth>100",
        "depth<=7",
    ],
)
async def test_index_counts_equal_walked_counts(
    redis: Any, unique_tenant: str, monkeypatch: pytest.MonkeyPatch, type_: str, q: str
) -> None:
    store = Store.over(redis)
    await _load(store, unique_tenant)
    flt = EntityFilter.build(type_expression=type_, q=q, expand=core_term_map().expand)
    plan = flt.count_plan()
    assert plan is not None
    from_indexes = await index_count(redis, TenantKeys(unique_tenant), plan)
    assert from_indexes is not None, "the indexes should answer this count"
    assert from_indexes == await _walked_total(store, unique_tenant, flt, monkeypatch)
    page, total = await store.entities.query(unique_tenant, flt, limit=3, count=True)
    assert total == from_indexes
    walked_page, _ = await store.entities.query(unique_tenant, flt, limit=3)
    assert page == walked_page
    empty, total = await store.entities.query(unique_tenant, flt, limit=0, count=True)
    assert (empty, total) == ([], from_indexes)


async def test_an_attribute_that_is_not_always_one_number_is_counted_by_walking(
    redis: Any, unique_tenant: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    store = Store.over(redis)
    await _load(store, unique_tenant)
    terms = core_term_map()
    text = {"id": "urn:c:text", "type": [terms.expand("Gauge")], "attrs": {}}
    text["attrs"][terms.expand("level")] = [{"type": "Property", "value": "high"}]
    await store.entities.create(unique_tenant, text)
    flt = EntityFilter.build(type_expression="Gauge", q="level>50", expand=terms.expand)
    plan = flt.count_plan()
    assert plan is not None
    assert await index_count(redis, TenantKeys(unique_tenant), plan) is None
    _, total = await store.entities.query(unique_tenant, flt, limit=1, count=True)
    assert total == await _walked_total(store, unique_tenant, flt, monkeypatch)


async def test_counts_follow_updates_and_deletes(redis: Any, unique_tenant: str) -> None:
    store = Store.over(redis)
    await _load(store, unique_tenant)
    terms = core_term_map()
    level = terms.expand("level")
    flt = EntityFilter.build(type_expression="Gauge", q="level>=150", expand=terms.expand)
    _, before = await store.entities.query(unique_tenant, flt, limit=0, count=True)
    assert before is not None
    await store.entities.apply(
        unique_tenant,
        "urn:c:00001",  # a Gauge at level 0.5
        lambda e: {**(e or {}), "attrs": {**(e or {})["attrs"], level: [{"type": "Property", "value": 500}]}},
    )
    _, raised = await store.entities.query(unique_tenant, flt, limit=0, count=True)
    await store.entities.apply(unique_tenant, "urn:c:00399", lambda e: None)  # a Gauge at level 199.5
    _, deleted = await store.entities.query(unique_tenant, flt, limit=0, count=True)
    assert (raised, deleted) == (before + 1, before)
    page, _ = await store.entities.query(unique_tenant, flt, limit=1)
    assert page[0]["id"] == "urn:c:00001"
