"""Numeric `q` queries give the same pages and counts whether the store walks the type or materialises."""

from __future__ import annotations

from typing import Any

import pytest
from cityos_broker.ngsild.contexts import core_term_map
from cityos_broker.query.filter import EntityFilter
from cityos_broker.store import Store, walking
from cityos_broker.store.keys import TenantKeys
from cityos_broker.store.walking import plan_walk, range_stats, walk_driver
from redis.asyncio import Redis

pytestmark = pytest.mark.integration

SIZE = 3_000


def _value(n: int) -> Any:
    """Numbers 0..2999 except every 97th entity (text: left to `matches`) and every 89th (no attribute)."""
    if n % 89 == 0:
        return None
    return f"level {n}" if n % 97 == 0 else n


async def _load(store: Store, tenant: str) -> None:
    terms = core_term_map()
    entities = []
    for n in range(SIZE):
        attrs: dict[str, Any] = {terms.expand("other"): [{"type": "Property", "value": n % 3}]}
        value = _value(n)
        if value is not None:
            attrs[terms.expand("level")] = [{"type": "Property", "value": value}]
        kind = "Gauge" if n % 10 else "Pump"  # a second type sharing the numbers index
        entities.append({"id": f"urn:g:{n:05d}", "type": [terms.expand(kind)], "attrs": attrs})
    for entity in entities:
        await store.entities.create(tenant, entity)


def _expected(low: float, strict: bool, other: int | None = None) -> list[str]:
    return [
        f"urn:g:{n:05d}"
        for n in range(SIZE)
        if n % 10
        and isinstance(_value(n), int)
        and (n > low if strict else n >= low)
        and (other is None or n % 3 == other)
    ]


@pytest.mark.parametrize("walks", [True, False], ids=["walk", "materialise"])
@pytest.mark.parametrize(
    ("q", "low", "strict", "other"),
    [
        ("level>100", 100, True, None),
        ("level>=2990", 2990, False, None),
        ("level>50;other==1", 50, True, 1),  # a range plus a presence index checked per chunk
    ],
)
async def test_pages_and_counts_match_the_data_on_either_plan(
    redis: Redis,
    unique_tenant: str,
    monkeypatch: pytest.MonkeyPatch,
    q: str,
    low: float,
    strict: bool,
    other: int | None,
    walks: bool,
) -> None:
    # Force one plan: a walk always (any number of checks is "cheap") or never.
    monkeypatch.setattr(walking, "_WALK_FACTOR", 10**9 if walks else 0)
    monkeypatch.setattr(walking, "_WALK_ALLOWANCE", 0)
    store = Store.over(redis)
    await _load(store, unique_tenant)
    terms = core_term_map()
    flt = EntityFilter.build(type_expression="Gauge", q=q, expand=terms.expand)
    keys = TenantKeys(unique_tenant)
    plan = flt.plan()
    driver = walk_driver(keys, plan)
    assert driver is not None
    stats, size = await range_stats(redis, keys, plan, driver)
    for count in (False, True):
        chosen = plan_walk(keys, plan, driver, size, stats, wanted=20, count=count)
        assert (chosen is not None) == walks
    expected = _expected(low, strict, other)
    for offset in (0, 7, len(expected) - 3):
        page, total = await store.entities.query(unique_tenant, flt, limit=20, offset=offset)
        assert [e["id"] for e in page] == expected[offset : offset + 20] and total is None
    page, total = await store.entities.query(unique_tenant, flt, limit=5, count=True)
    assert total == len(expected) and [e["id"] for e in page] == expected[:5]


async def test_a_walk_follows_updates_and_deletes(redis: Redis, unique_tenant: str) -> None:
    store = Store.over(redis)
    await _load(store, unique_tenant)
    terms = core_term_map()
    level = terms.expand("level")
    await store.entities.apply(
        unique_tenant,
        "urn:g:00001",
        lambda e: {
            **(e or {}),
            "attrs": {**(e or {})["attrs"], level: [{"type": "Property", "value": 5000}]},
        },
    )
    await store.entities.apply(
        unique_tenant,
        "urn:g:00002",
        lambda e: {**(e or {}), "attrs": {k: v for k, v in (e or {})["attrs"].items() if k != level}},
    )
    flt = EntityFilter.build(type_expression="Gauge", q="level>2", expand=terms.expand)
    page, _ = await store.entities.query(unique_tenant, flt, limit=3)
    # 00001 now holds 5000, 00002 lost the attribute, 00003 is 3; 00000 is a Pump.
    assert [e["id"] for e in page] == ["urn:g:00001", "urn:g:00003", "urn:g:00004"]
    await store.entities.apply(unique_tenant, "urn:g:00001", lambda e: None)
    page, _ = await store.entities.query(unique_tenant, flt, limit=2)
    assert [e["id"] for e in page] == ["urn:g:00003", "urn:g:00004"]
