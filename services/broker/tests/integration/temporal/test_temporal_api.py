"""The temporal API over gRPC with real Valkey and S3: recorded history, queries, aggregation, deletes."""

from __future__ import annotations

import math
import statistics
from typing import Any

import orjson
import pytest
from cityos.broker.v1 import broker_pb2 as pb
from cityos_broker.temporal.timeutil import from_ms, to_ms
from cityos_devtools.polling import poll_until

# Also on a Redis Cluster (cityos_devtools: redis_env), where cross-slot commands fail.
pytestmark = [pytest.mark.integration, pytest.mark.redis_modes("standalone", "cluster")]

CAR = "urn:ngsi-ld:Car:t1"


async def _history(client: Any, entity_id: str, attr: str, count: int, **params: str) -> dict[str, Any]:
    async def ready() -> dict[str, Any] | None:
        try:
            doc, _ = await client.temporal(entity_id, **params)
        except Exception:  # not recorded yet: 404 until the recorder has seen the first change
            return None
        instances = doc.get(attr)
        return doc if isinstance(instances, list) and len(instances) >= count else None

    return await poll_until(ready, f"{count} recorded instances of {attr}", timeout=15)


async def test_writes_through_the_broker_produce_history(temporal_client: Any) -> None:
    await temporal_client.create_entity({"id": CAR, "type": "Car", "speed": 10, "brand": "x"})
    for speed in (20, 30, 45):
        await temporal_client.update(CAR, {"speed": speed})
    doc = await _history(temporal_client, CAR, "speed", 4)
    assert doc["id"] == CAR and doc["type"] == "Car"
    assert [i["value"] for i in doc["speed"]] == [10, 20, 30, 45]
    assert len({i["instanceId"] for i in doc["speed"]}) == 4
    assert [i["value"] for i in doc["brand"]] == ["x"]  # unchanged attributes record no new instance

    last, content_range = await temporal_client.temporal(CAR, lastN="2")
    assert [i["value"] for i in last["speed"]] == [30, 45]
    assert content_range.startswith("DateTime ") and content_range.endswith("/2")

    aggregated, _ = await temporal_client.temporal(CAR, aggrMethods="sum,avg,max,totalCount", attrs="speed")
    speed = aggregated["speed"]
    assert (speed["sum"][0][0], speed["avg"][0][0], speed["max"][0][0]) == (105, 26.25, 45)
    assert speed["totalCount"][0][0] == 4

    simplified, _ = await temporal_client.temporal(CAR, options="temporalValues")
    assert [v for v, _ in simplified["speed"]["values"]] == [10, 20, 30, 45]

    found, count = await temporal_client.query_temporal({"type": "Car", "q": "speed>40"}, lastN="1")
    assert count == 1 and found[0]["id"] == CAR and [i["value"] for i in found[0]["speed"]] == [45]
    none, count = await temporal_client.query_temporal({"type": "Car", "q": "speed>100"})
    assert (none, count) == ([], 0)


def _day_of_minutes(day: str) -> tuple[list[float], dict[str, Any]]:
    start = to_ms(day + "T00:00:00Z")
    values = [round(20 + 5 * math.sin(i / 90) + (i % 7) * 0.1, 3) for i in range(1440)]
    instances = [
        {"type": "Property", "value": v, "observedAt": from_ms(start + i * 60_000)}
        for i, v in enumerate(values)
    ]
    return values, {"id": "urn:ngsi-ld:Gauge:g1", "type": "Gauge", "level": instances}


async def test_aggregation_over_a_day_of_minute_data(temporal_client: Any) -> None:
    values, doc = _day_of_minutes("2026-11-20")
    assert await temporal_client.create_temporal(doc) == "urn:ngsi-ld:Gauge:g1"
    out, content_range = await temporal_client.temporal(
        "urn:ngsi-ld:Gauge:g1",
        timerel="between",
        timeAt="2026-11-20T00:00:00Z",
        endTimeAt="2026-11-21T00:00:00Z",
        aggrMethods="totalCount,distinctCount,sum,avg,min,max,stddev,sumsq",
        aggrPeriodDuration="PT1H",
    )
    assert content_range == ""
    level = out["level"]
    assert [row[0] for row in level["totalCount"]] == [60] * 24
    assert level["avg"][0][1:] == ["2026-11-20T00:00:00.000Z", "2026-11-20T01:00:00.000Z"]
    for hour in range(24):
        chunk = values[hour * 60 : (hour + 1) * 60]
        assert level["sum"][hour][0] == pytest.approx(math.fsum(chunk))
        assert level["avg"][hour][0] == pytest.approx(statistics.fmean(chunk))
        assert level["min"][hour][0] == min(chunk) and level["max"][hour][0] == max(chunk)
        assert level["stddev"][hour][0] == pytest.approx(statistics.stdev(chunk))
        assert level["sumsq"][hour][0] == pytest.approx(math.fsum(v * v for v in chunk))
        assert level["distinctCount"][hour][0] == len(set(chunk))
    whole, _ = await temporal_client.temporal("urn:ngsi-ld:Gauge:g1", aggrMethods="totalCount,avg")
    assert whole["level"]["totalCount"] == [[1440, "2026-11-20T00:00:00.000Z", "2026-11-20T23:59:00.000Z"]]


async def test_create_append_and_deletes(temporal_client: Any) -> None:
    doc = {
        "id": "urn:ngsi-ld:Room:r1",
        "type": "Room",
        "temperature": [
            {"type": "Property", "value": 20, "observedAt": "2026-11-20T10:00:00Z"},
            {"type": "Property", "value": 21, "observedAt": "2026-11-20T11:00:00Z"},
        ],
    }
    assert await temporal_client.create_temporal(doc) == "urn:ngsi-ld:Room:r1"
    assert await temporal_client.create_temporal({**doc, "temperature": [doc["temperature"][0]]}) == ""  # 204
    body = {"temperature": {"type": "Property", "value": 25, "observedAt": "2026-11-20T12:00:00Z"}}
    await temporal_client.call(
        "AppendTemporalAttributes", pb.ResourceRequest(id="urn:ngsi-ld:Room:r1", body=orjson.dumps(body))
    )
    out, _ = await temporal_client.temporal(
        "urn:ngsi-ld:Room:r1", timerel="after", timeAt="2026-11-20T10:30:00Z"
    )
    assert [i["value"] for i in out["temperature"]] == [21, 25]
    out, _ = await temporal_client.temporal("urn:ngsi-ld:Room:r1")
    assert [i["value"] for i in out["temperature"]] == [20, 20, 21, 25]

    victim = out["temperature"][1]["instanceId"]
    request = pb.ResourceRequest(id="urn:ngsi-ld:Room:r1", attribute="temperature", instance_id=victim)
    await temporal_client.call("DeleteTemporalAttribute", request)
    problem = await temporal_client.problem("DeleteTemporalAttribute", request)
    assert problem.kind == "ResourceNotFound"
    out, _ = await temporal_client.temporal("urn:ngsi-ld:Room:r1")
    assert [i["value"] for i in out["temperature"]] == [20, 21, 25]

    delete_all = pb.ResourceRequest(
        id="urn:ngsi-ld:Room:r1", attribute="temperature", params={"deleteAll": "true"}
    )
    await temporal_client.call("DeleteTemporalAttribute", delete_all)
    out, _ = await temporal_client.temporal("urn:ngsi-ld:Room:r1")
    assert "temperature" not in out

    await temporal_client.call("DeleteTemporalEntity", pb.ResourceRequest(id="urn:ngsi-ld:Room:r1"))
    problem = await temporal_client.problem(
        "RetrieveTemporalEntity", pb.ResourceRequest(id="urn:ngsi-ld:Room:r1")
    )
    assert problem.kind == "ResourceNotFound" and problem.status == 404


@pytest.mark.parametrize(
    ("rpc", "request_", "kind"),
    [
        (
            "RetrieveTemporalEntity",
            pb.ResourceRequest(id="urn:x:1", params={"timerel": "before"}),
            "BadRequestData",
        ),
        ("RetrieveTemporalEntity", pb.ResourceRequest(id="urn:x:1", params={"lastN": "0"}), "BadRequestData"),
        ("RetrieveTemporalEntity", pb.ResourceRequest(id="not a uri"), "BadRequestData"),
        ("CreateTemporalEntity", pb.ResourceRequest(body=b'{"id": "urn:x:1"}'), "BadRequestData"),
        ("CreateTemporalEntity", pb.ResourceRequest(body=b"[1]"), "BadRequestData"),
        ("CreateTemporalEntity", pb.ResourceRequest(body=b"{"), "InvalidRequest"),
        (
            "AppendTemporalAttributes",
            pb.ResourceRequest(id="urn:x:none", body=b'{"a": 1}'),
            "ResourceNotFound",
        ),
        ("QueryTemporalEntities", pb.ResourceRequest(params={"lastN": "1"}), "BadRequestData"),
    ],
)
async def test_bad_requests(temporal_client: Any, rpc: str, request_: Any, kind: str) -> None:
    await temporal_client.create_temporal({"id": "urn:x:seed", "type": "T", "a": 1})  # the tenant exists
    problem = await temporal_client.problem(rpc, request_)
    assert problem.kind == kind
    assert problem.status == (404 if kind == "ResourceNotFound" else 400)
