"""Create the first prefecture tenant of a fresh City OS release (Helm post-install hook).

Until the identity service exists, a tenant comes into being with its first write
(BROKER_AUTO_CREATE_TENANTS=true), so the Job upserts one marker entity through the gateway's
NGSI-LD API with the tenant's NGSILD-Tenant header. Re-running it is harmless: an existing
entity answers 409 and counts as success. Creating the tenant's administrator arrives with the
identity service; until then the Job says so and leaves it out. Only the standard library is used,
because the Job runs in the gateway image.
"""

from __future__ import annotations

import json
import os
import sys
import time
import urllib.error
import urllib.request

_ACCEPTED = {201, 204, 409}


def _env(name: str) -> str:
    """Read a required environment variable or stop with its name."""
    value = os.environ.get(name, "").strip()
    if not value:
        sys.exit(f"init: {name} is not set")
    return value


def _status(request: urllib.request.Request, timeout: float) -> int:
    """Send a request and return its HTTP status, error statuses included."""
    try:
        with urllib.request.urlopen(request, timeout=timeout) as response:  # noqa: S310 (scheme checked in main)
            return int(response.status)
    except urllib.error.HTTPError as err:
        return int(err.code)


def wait_ready(gateway: str, deadline: float) -> None:
    """Poll the gateway's /readyz until it answers 200 or the deadline passes."""
    while True:
        try:
            ready = urllib.request.Request(f"{gateway}/readyz")  # noqa: S310 (scheme checked in main)
            if _status(ready, timeout=5) == 200:
                return
        except OSError as err:  # connection refused while the gateway starts
            print(f"init: gateway not ready yet ({err})", flush=True)
        if time.monotonic() > deadline:
            sys.exit(f"init: gateway {gateway} was not ready in time")
        time.sleep(3)


def ensure_tenant(gateway: str, tenant: str) -> int:
    """Upsert the tenant's marker entity; return the HTTP status."""
    entity = {
        "id": f"urn:ngsi-ld:CityOSTenant:{tenant}",
        "type": "CityOSTenant",
        "name": {"type": "Property", "value": tenant},
        "role": {"type": "Property", "value": "prefecture"},
    }
    request = urllib.request.Request(  # noqa: S310 (scheme checked in main)
        f"{gateway}/ngsi-ld/v1/entities",
        data=json.dumps(entity).encode(),
        method="POST",
        headers={"Content-Type": "application/json", "NGSILD-Tenant": tenant},
    )
    return _status(request, timeout=30)


def main() -> None:
    """Wait for the gateway, ensure the tenant, report on the administrator."""
    gateway = _env("CITYOS_GATEWAY_URL").rstrip("/")
    if not gateway.startswith(("http://", "https://")):
        sys.exit(f"init: CITYOS_GATEWAY_URL must be an http(s) URL, not {gateway!r}")
    tenant = _env("CITYOS_INIT_TENANT")
    deadline = time.monotonic() + float(os.environ.get("CITYOS_INIT_WAIT_SECONDS", "300"))
    wait_ready(gateway, deadline)
    status = ensure_tenant(gateway, tenant)
    if status not in _ACCEPTED:
        sys.exit(f"init: creating tenant {tenant!r} failed with HTTP {status}")
    print(f"init: tenant {tenant!r} is present (HTTP {status})", flush=True)
    admin = os.environ.get("CITYOS_INIT_ADMIN_EMAIL", "")
    if admin:
        print(
            f"init: administrator {admin!r} is not created: tenant administrators arrive with the "
            "identity service",
            flush=True,
        )


if __name__ == "__main__":
    main()
