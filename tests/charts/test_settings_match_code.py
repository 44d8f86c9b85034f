"""The chart sets exactly the environment variables the services read: none is invented, none forgotten.

The names a service reads are taken from its source (every `env_*("NAME", ...)` call of its package and of
cityos-runtime), so a setting added to or removed from a service's config.py fails here until the chart
follows.
"""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

import pytest

_READ = re.compile(r"\b(?:env_[a-z]+|_raw)\(\s*\"([A-Z][A-Z0-9_]+)\"")
# Rendered for settings the services do not honour yet; documented as such in values.yaml and the NOTES.
NOT_HONOURED: set[str] = set()
# Only expanded by the kubelet into REDIS_URL ($(REDIS_PASSWORD)); no service reads it by name.
KUBELET_ONLY = {"REDIS_PASSWORD"}
# Rendered only when their value is set (test_config checks them then); METRICS_PORT with the ServiceMonitor,
# REDIS_CLUSTER_NODES / REDIS_SENTINEL_* in their redis.mode.
OPTIONAL = {
    "OTEL_EXPORTER_OTLP_ENDPOINT",
    "S3_REGION",
    "METRICS_PORT",
    "REDIS_CLUSTER_NODES",
    "REDIS_SENTINEL_NODES",
    "REDIS_SENTINEL_MASTER",
}
SCENARIOS = ("production-hpa", "bundled")


def _reads(repo: Path, service: str) -> set[str]:
    """Every variable name a service (with cityos-runtime) reads."""
    names: set[str] = set()
    for root in (repo / "services" / service / "src", repo / "libs" / "cityos-runtime" / "src"):
        for path in root.rglob("*.py"):
            names |= set(_READ.findall(path.read_text()))
    return names


def _released(repo: Path) -> list[str]:
    return sorted(p.parent.name for p in (repo / "services").glob("*/src") if p.is_dir())


def _chart_env(result: Any, name: str) -> tuple[set[str], set[str]]:
    """(shared ConfigMap names, this service's own names: its ConfigMap and container env)."""
    shared = set(result.get("ConfigMap", "demo-cityos-config")["data"])
    own = set(result.get("ConfigMap", f"demo-cityos-{name}")["data"])
    container = result.get("Deployment", f"demo-cityos-{name}")["spec"]["template"]["spec"]["containers"][0]
    own |= {item["name"] for item in container["env"]}
    return shared, own


def test_released_services_are_found(repo: Path) -> None:
    assert {"broker", "gateway", "identity"} <= set(_released(repo))


@pytest.mark.parametrize("shape", SCENARIOS)
def test_every_variable_the_chart_sets_is_read(repo: Path, rendered: dict[str, Any], shape: str) -> None:
    result = rendered[shape]
    read_by_any: set[str] = set()
    for service in _released(repo):
        reads = _reads(repo, service)
        read_by_any |= reads
        shared, own = _chart_env(result, service)
        extra = set(result.values.get("services", {}).get(service, {}).get("extraEnv", {}))
        # Addresses of enabled services whose code has not landed (their callers will read them).
        ahead = {
            f"{name.upper()}_ADDRESS" for name in {"assets", "catalog", "connectors"} - set(_released(repo))
        }
        unread = own - reads - KUBELET_ONLY - extra - ahead
        assert not unread, f"{shape}: the chart sets {sorted(unread)} for {service}, which does not read them"
    shared, _ = _chart_env(result, "broker")
    assert not (shared - read_by_any - NOT_HONOURED), "a shared setting no service reads"
    assert not (NOT_HONOURED & read_by_any), (
        "a service honours one of NOT_HONOURED now: update the chart docs"
    )


@pytest.mark.parametrize("shape", SCENARIOS)
def test_every_variable_a_service_reads_is_wired(repo: Path, rendered: dict[str, Any], shape: str) -> None:
    result = rendered[shape]
    for service in _released(repo):
        shared, own = _chart_env(result, service)
        missing = _reads(repo, service) - shared - own - OPTIONAL
        assert not missing, f"{shape}: {service} reads {sorted(missing)}, which the chart never sets"
