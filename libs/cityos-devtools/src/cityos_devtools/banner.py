"""What `cityos-dev run` prints once the stack is ready: where it runs and two queries to paste."""

from __future__ import annotations

import shlex
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import quote, urlencode

API_PATH = "/ngsi-ld/v1"


@dataclass(frozen=True)
class ExampleQuery:
    """A ready-to-run NGSI-LD query against the seeded demo data."""

    description: str
    url: str
    tenant: str

    def curl(self) -> str:
        """The query as a shell-safe curl command."""
        return f"curl -sS {shlex.quote(self.url)} -H {shlex.quote('NGSILD-Tenant: ' + self.tenant)}"


def _entities_url(gateway_url: str, params: dict[str, str]) -> str:
    # quote (not quote_plus) with safe="" so ; = [ ] , > are all percent-encoded for every shell and client.
    return f"{gateway_url}{API_PATH}/entities?{urlencode(params, quote_via=quote, safe='')}"


def example_queries(gateway_url: str) -> list[ExampleQuery]:
    """A q filter and a geo-query over the seeded Sapporo data."""
    return [
        ExampleQuery(
            "river gauges above 2 m",
            _entities_url(gateway_url, {"type": "WaterLevelGauge", "q": "waterLevel>2.0"}),
            "sapporo",
        ),
        ExampleQuery(
            "gauges and shelters within 2 km of Sapporo Station's south side",
            _entities_url(
                gateway_url,
                {
                    "type": "WaterLevelGauge,EvacuationShelter",
                    "georel": "near;maxDistance==2000",
                    "geometry": "Point",
                    "coordinates": "[141.35,43.06]",
                },
            ),
            "sapporo",
        ),
    ]


def render_banner(gateway_url: str, data_dir: Path, log_files: list[Path], stores: list[str]) -> str:
    """The ready message: URLs, data and log locations, example commands."""
    lines = [
        "",
        f"City OS is running: {gateway_url}  (NGSI-LD API {gateway_url}{API_PATH}, auth mode: open)",
        f"  data folder: {data_dir}",
        *(f"  {store}" for store in stores),
        "  logs:",
        *(f"    {path}" for path in log_files),
        "",
        "Try the demo data (tenants: hokkaido, sapporo, otaru):",
    ]
    for example in example_queries(gateway_url):
        lines += [f"  # {example.description}", f"  {example.curl()}"]
    lines += ["", "Press Ctrl-C to stop everything.", ""]
    return "\n".join(lines)
