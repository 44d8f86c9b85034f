"""The temporal figures, through the gateway: one entity with a day of 1-minute readings (aggregated per
hour, and queried whole), and many entities with an hour of 1-minute readings each (queried, aggregated)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from urllib.parse import urlencode

from loadtests.bench.loadgen import RequestFactory, one_request, run_load
from loadtests.bench.workload import ENTITY_TYPE, Requests

_DAY = datetime(2026, 1, 15, tzinfo=UTC)
_MINUTES = 24 * 60
ENTITY_ID = f"urn:ngsi-ld:{ENTITY_TYPE}:bench-temporal"
HISTORY_TYPE = "BenchHistory"  # the many-entities figures' own type, so the gauges never mix in
_HOUR_MINUTES = 60
_LOAD_CONNECTIONS = 8


def _stamp(moment: datetime) -> str:
    return moment.strftime("%Y-%m-%dT%H:%M:%SZ")


def day_of_readings() -> dict[str, object]:
    """The temporal representation of one gauge: 1,440 waterLevel instances, one per minute of a day."""
    instances = [
        {
            "type": "Property",
            "value": round(1.0 + 0.5 * ((minute % 240) / 240), 3),  # a tide-like ramp every 4 hours
            "observedAt": _stamp(_DAY + timedelta(minutes=minute)),
        }
        for minute in range(_MINUTES)
    ]
    return {"id": ENTITY_ID, "type": ENTITY_TYPE, "waterLevel": instances}


async def prepare(req: Requests, url: str) -> str | None:
    """Store the day of readings; None when done, else why the figure cannot be measured."""
    answer = await one_request(url, req.send("POST", "/temporal/entities", day_of_readings()), timeout_s=60)
    if answer.status in (201, 204):
        return None
    return f"POST /temporal/entities answered {answer.status}"


def aggregation(req: Requests) -> RequestFactory:
    """GET of hourly avg / min / max over the whole day."""
    query = urlencode(
        {
            "options": "aggregatedValues",
            "aggrMethods": "avg,min,max",
            "aggrPeriodDuration": "PT1H",
            "timerel": "between",
            "timeAt": _stamp(_DAY),
            "endTimeAt": _stamp(_DAY + timedelta(days=1)),
        }
    )
    request = req.send("GET", f"/temporal/entities/{ENTITY_ID}", query=query)
    return lambda _number: request


def whole_day(req: Requests) -> RequestFactory:
    """GET of the entity's full day: 1,440 instances of waterLevel (temporalValues)."""
    query = urlencode(
        {
            "options": "temporalValues",
            "timerel": "between",
            "timeAt": _stamp(_DAY),
            "endTimeAt": _stamp(_DAY + timedelta(days=1)),
        }
    )
    request = req.send("GET", f"/temporal/entities/{ENTITY_ID}", query=query)
    return lambda _number: request


def _hour_of_readings(number: int) -> dict[str, object]:
    """Entity `number` of the many-entities figures: 60 waterLevel instances, one per minute."""
    instances = [
        {
            "type": "Property",
            "value": round(0.5 + ((number * 7 + minute) % 100) / 100, 3),
            "observedAt": _stamp(_DAY + timedelta(minutes=minute)),
        }
        for minute in range(_HOUR_MINUTES)
    ]
    return {"id": f"urn:ngsi-ld:{HISTORY_TYPE}:{number:05d}", "type": HISTORY_TYPE, "waterLevel": instances}


async def prepare_many(req: Requests, url: str, entities: int) -> str | None:
    """Store an hour of readings for each of `entities` entities; None when all were stored."""
    result = await run_load(
        url,
        lambda n: req.send("POST", "/temporal/entities", _hour_of_readings(n)),
        connections=_LOAD_CONNECTIONS,
        max_requests=entities,
        duration_s=600,
    )
    if result.ok == entities:
        return None
    return f"{result.ok} of {entities} POST /temporal/entities succeeded ({result.status_counts})"


def _many_query(entities: int, **options: str) -> dict[str, str]:
    return {
        "type": HISTORY_TYPE,
        "timerel": "between",
        "timeAt": _stamp(_DAY),
        "endTimeAt": _stamp(_DAY + timedelta(hours=1)),
        "limit": str(entities),
        **options,
    }


def many_query(req: Requests, entities: int) -> RequestFactory:
    """GET of every entity's last 10 readings in one page (temporalValues)."""
    query = urlencode(_many_query(entities, options="temporalValues", lastN="10"))
    request = req.send("GET", "/temporal/entities", query=query)
    return lambda _number: request


def many_aggregation(req: Requests, entities: int) -> RequestFactory:
    """GET of avg / min / max per 10 minutes for every entity in one page."""
    query = urlencode(
        _many_query(
            entities, options="aggregatedValues", aggrMethods="avg,min,max", aggrPeriodDuration="PT10M"
        )
    )
    request = req.send("GET", "/temporal/entities", query=query)
    return lambda _number: request
