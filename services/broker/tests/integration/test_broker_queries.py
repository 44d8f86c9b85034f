"""Queries: stable paging under concurrent inserts, type DNF / attribute narrowing and geo narrowing."""

from __future__ import annotations

import asyncio
from typing import Any

import orjson
import pytest
from cityos.broker.v1 import broker_pb2 as pb
from cityos_broker.ngsild.contexts import core_term_map
from cityos_broker.query.filter import EntityFilter, IndexCount, IndexPlan
from cityos_broker.query.geo import parse_geo_query
from cityos_broker.store import Store
from redis.asyncio import Redis

# Also on a Redis Cluster (cityos_devtools: redis_env), where cross-slot commands fail.
pytestmark = [pytest.mark.integration, pytest.mark.redis_modes("standalone", "cluster")]


def thing(number: int, *types: str, **attrs: Any) -> dict[str, Any]:
    entity: dict[str, Any] = {"id": f"urn:ngsi-ld:Thing:{number:04d}", "type": list(types) or ["Thing"]}
    for name, value in attrs.items():
        entity[name] = (
            value if isinstance(value, dict) and "type" in value else {"type": "Property", "value": value}
        )
    return entity


class CountingFilter:
    """Wraps an EntityFilter and counts the candidates the store had to test."""

    def __init__(self, inner: EntityFilter) -> None:
        self.inner = inner
        self.tested = 0

    def matches(self, entity: Any) -> bool:
        self.tested += 1
        return self.inner.matches(entity)

    def plan(self) -> IndexPlan:
        return self.inner.plan()

    def count_plan(self) -> IndexCount | None:
        return self.inner.count_plan()


@pytest.mark.parametrize("q", ["", "n>=0"], ids=["index-exact", "filtered-scan"])
async def test_paging_returns_every_id_once_in_order_while_entities_are_added(client: Any, q: str) -> None:
    await client.batch(pb.BATCH_OPERATION_CREATE, [thing(n, n=n) for n in range(250)])
    expected = [f"urn:ngsi-ld:Thing:{n:04d}" for n in range(250)]
    stop = asyncio.Event()

    async def add_more() -> None:
        n = 1000  # ids sort after every existing one: offsets of earlier pages never shift
        while not stop.is_set():
            await client.create(thing(n, n=n))
            n += 1

    adder = asyncio.create_task(add_more())
    seen: list[str] = []
    try:
        offset = 0
        while len(seen) < 250:
            page, _ = await client.query(type="Thing", q=q, limit=20, offset=offset)
            assert page, "ran out of pages"
            seen.extend(e["id"] for e in page)
            offset += 20
            await asyncio.sleep(0)
    finally:
        stop.set()
        await adder
    assert seen[:250] == expected
    assert len(seen) == len(set(seen))


async def test_type_expressions_select_by_dnf(client: Any) -> None:
    await client.batch(
        pb.BATCH_OPERATION_CREATE,
        [thing(1, "A"), thing(2, "B"), thing(3, "A", "B"), thing(4, "C"), thing(5, "A", "C")],
    )

    async def ids(type_expression: str) -> list[int]:
        found, total = await client.query(type=type_expression, count=True)
        assert total == len(found)
        return [int(e["id"].rsplit(":", 1)[1]) for e in found]

    assert await ids("A") == [1, 3, 5]
    assert await ids("A|B") == [1, 2, 3, 5]
    assert await ids("A,C") == [1, 3, 4, 5]
    assert await ids("A;B") == [3]
    assert await ids("(A;B)|(A;C)") == [3, 5]
    assert await ids("D") == []


async def test_indexes_narrow_the_candidates_before_the_filter(redis: Redis, unique_tenant: str) -> None:
    store = Store.over(redis)
    terms = core_term_map()
    for n in range(40):
        entity = {"id": f"urn:x:{n:03d}", "type": [terms.expand("A" if n % 4 else "B")], "attrs": {}}
        if n % 8 == 0:
            entity["attrs"][terms.expand("rare")] = [{"type": "Property", "value": n}]
        await store.entities.create(unique_tenant, entity)
    by_type = CountingFilter(EntityFilter.build(type_expression="B", expand=terms.expand))
    page, total = await store.entities.query(unique_tenant, by_type, limit=100, count=True)
    assert total == 10 and by_type.tested == 10  # only entities of type B were read
    by_attr = CountingFilter(EntityFilter.build(type_expression="A|B", q="rare>=0", expand=terms.expand))
    page, total = await store.entities.query(unique_tenant, by_attr, limit=100, count=True)
    assert [e["id"] for e in page] == [f"urn:x:{n:03d}" for n in range(0, 40, 8)]
    assert by_attr.tested == 5  # q's required attribute narrowed the type union
    ranged = CountingFilter(
        EntityFilter.build(type_expression="B", q="rare>10;rare<=24", expand=terms.expand)
    )
    page, total = await store.entities.query(unique_tenant, ranged, limit=100, count=True)
    assert [e["id"] for e in page] == ["urn:x:016", "urn:x:024"]
    assert ranged.tested == 2  # the numeric index kept only values within [10, 24]
    await store.entities.apply(
        unique_tenant,
        "urn:x:008",
        lambda e: {**(e or {}), "attrs": {terms.expand("rare"): [{"type": "Property", "value": "text"}]}},
    )
    ranged = CountingFilter(
        EntityFilter.build(type_expression="B", q="rare>10;rare<=24", expand=terms.expand)
    )
    page, total = await store.entities.query(unique_tenant, ranged, limit=100, count=True)
    assert total == 2 and ranged.tested == 3  # a non-number stays a candidate; `matches` decides
    listed = CountingFilter(EntityFilter.build(ids=["urn:x:001", "urn:x:404"], expand=terms.expand))
    page, total = await store.entities.query(unique_tenant, listed, limit=10, count=True)
    assert [e["id"] for e in page] == ["urn:x:001"] and total == 1


async def test_geo_queries_find_points_and_polygons(client: Any, redis: Redis) -> None:
    def located(n: int, geometry: dict[str, Any]) -> dict[str, Any]:
        return thing(n, location={"type": "GeoProperty", "value": geometry})

    big_square = {"type": "Polygon", "coordinates": [[[0, 0], [10, 0], [10, 10], [0, 10], [0, 0]]]}
    await client.batch(
        pb.BATCH_OPERATION_CREATE,
        [
            located(1, {"type": "Point", "coordinates": [0.5005, 0.5]}),  # ~55 m from the reference
            located(2, big_square),  # contains the reference; its centroid is ~700 km away
            located(3, {"type": "Point", "coordinates": [3.0, 3.0]}),
            thing(4, other=1),
        ],
    )
    near = {"georel": "near;maxDistance==1000", "geometry": "Point", "coordinates": "[0.5,0.5]"}
    found, total = await client.query(type="Thing", geo=near, count=True)
    assert [e["id"] for e in found] == ["urn:ngsi-ld:Thing:0001", "urn:ngsi-ld:Thing:0002"]
    assert total == 2
    box = "[[[2.5,2.5],[3.5,2.5],[3.5,3.5],[2.5,3.5],[2.5,2.5]]]"
    within = {"georel": "within", "geometry": "Polygon", "coordinates": box}
    assert [e["id"] for e in (await client.query(type="Thing", geo=within))[0]] == ["urn:ngsi-ld:Thing:0003"]
    intersects = {"georel": "intersects", "geometry": "Polygon", "coordinates": box}
    found, _ = await client.query(type="Thing", geo=intersects)
    assert [e["id"] for e in found] == ["urn:ngsi-ld:Thing:0002", "urn:ngsi-ld:Thing:0003"]
    # The GEO index really narrows: the far point is not even a candidate of the near query.
    terms = core_term_map()
    geo = parse_geo_query("near;maxDistance==1000", "Point", "[0.5,0.5]", "location", terms.expand)
    counting = CountingFilter(EntityFilter.build(geo=geo, expand=terms.expand))
    await Store.over(redis).entities.query(client.tenant, counting, limit=10, count=True)
    assert counting.tested == 2


async def test_a_query_body_selects_with_several_selectors_and_projects_its_attrs(client: Any) -> None:
    await client.batch(
        pb.BATCH_OPERATION_CREATE,
        [thing(1, "A", x=1, y=2), thing(2, "B", x=5, y=6), thing(3, "C", x=9), thing(4, "A", y=1)],
    )
    body = {
        "type": "Query",
        "entities": [{"type": "A"}, {"id": "urn:ngsi-ld:Thing:0002"}],
        "attrs": ["x"],
        "q": "x>=0",
    }
    request = pb.QueryEntitiesRequest(query_body=orjson.dumps(body), count=True)
    response = await client.call("QueryEntities", request)
    found = orjson.loads(response.document.body)
    assert [e["id"] for e in found] == ["urn:ngsi-ld:Thing:0001", "urn:ngsi-ld:Thing:0002"]
    assert response.count == 2
    assert all("y" not in e and "x" in e for e in found)
    bad = await client.problem(
        "QueryEntities", pb.QueryEntitiesRequest(query_body=orjson.dumps({**body, "geoQ": "near"}))
    )
    assert bad.status == 400
