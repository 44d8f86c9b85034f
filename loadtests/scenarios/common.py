"""What every scenario shares: how a client authenticates, the tenant, the seeded data, loopback only."""

from __future__ import annotations

import json
import os
import urllib.error
import urllib.request
from typing import Any

from locust import FastHttpUser

from loadtests.bench.loadgen import loopback_target
from loadtests.bench.workload import API, Gauges, entity_id

TENANT = os.environ.get("LOADTEST_TENANT", "loadtest")
GAUGES = int(os.environ.get("LOADTEST_GAUGES", "2000"))
PLOUGHS = int(os.environ.get("LOADTEST_PLOUGHS", "270"))
_SEED_BATCH = 500


def auth_headers() -> dict[str, str]:
    """The headers a real client sends to authenticate and pick its tenant.

    This is the one place that adds `Authorization: Bearer <token>`: LOADTEST_TOKEN, a client_credentials
    token that `python -m loadtests.scenarios` mints for the scenarios' tenant (or one passed by hand).
    Without it (gateway in open mode) a client only names its tenant.
    """
    headers = {"NGSILD-Tenant": TENANT, "Accept": "application/json"}
    token = os.environ.get("LOADTEST_TOKEN", "")
    if token:
        headers["Authorization"] = f"Bearer {token}"
    return headers


class CityOsUser(FastHttpUser):
    """A client of the gateway: every request carries the auth headers; JSON bodies are NGSI-LD."""

    abstract = True

    def send(self, method: str, path: str, name: str, body: Any = None) -> None:
        """One request; a non-2xx answer is a failure in the locust report, with the problem's title."""
        headers = auth_headers()
        data = None
        if body is not None:
            headers["Content-Type"] = "application/json"
            data = json.dumps(body)
        with self.client.request(
            method, f"{API}{path}", name=name, headers=headers, data=data, catch_response=True
        ) as response:
            if not 200 <= (response.status_code or 0) < 300:
                response.failure(f"{response.status_code}: {(response.text or '')[:200]}")


def gauges() -> Gauges:
    """The seeded water-level gauges (the same deterministic set as the bench)."""
    return Gauges.generate(GAUGES)


def gauge_id(index: int) -> str:
    """The id of a seeded gauge."""
    return entity_id(index % GAUGES)


def seed(host: str) -> None:
    """Create the gauges the scenarios read and write, by batch upserts (loopback targets only)."""
    data = gauges()
    for start in range(0, len(data), _SEED_BATCH):
        batch = [data.entity(i) for i in range(start, min(len(data), start + _SEED_BATCH))]
        request_json(host, "POST", "/entityOperations/upsert", batch)


def request_json(host: str, method: str, path: str, body: Any = None) -> str:
    """A set-up request outside the measured users (loopback only); returns the Location header, if any."""
    loopback_target(host)
    headers = auth_headers()
    data = None
    if body is not None:
        headers["Content-Type"] = "application/json"
        data = json.dumps(body).encode()
    # The host was checked to be a loopback http:// URL above.
    request = urllib.request.Request(
        f"{host.rstrip('/')}{API}{path}", data=data, headers=headers, method=method
    )
    try:
        with urllib.request.urlopen(request, timeout=60) as response:
            return str(response.headers.get("Location") or "")
    except urllib.error.HTTPError as exc:
        raise RuntimeError(f"{method} {path} answered {exc.code}: {exc.read()[:300]!r}") from exc
