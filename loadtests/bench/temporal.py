"""The temporal figure: one entity with a day of 1-minute readings, aggregated per hour via the gateway."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from urllib.parse import urlencode

from loadtests.bench import figures as F
from loadtests.bench.loadgen import RequestFactory, one_request
from loadtests.bench.workload import ENTITY_TYPE, Requests

_DAY = datetime(2026, 1, 15, tzinfo=UTC)
_MINUTES = 24 * 60
ENTITY_ID = f"urn:ngsi-ld:{ENTITY_TYPE}:bench-temporal"


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


def unavailable(reason: str) -> F.Figure:
    """The temporal row when the stack cannot store or aggregate history."""
    figure = next(f for f in F.not_yet_figures() if f.key == F.TEMPORAL.key)
    figure.note = f"n/a — {reason}"
    return figure
