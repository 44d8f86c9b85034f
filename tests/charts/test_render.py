"""Every scenario renders, passes helm lint and validates against Kubernetes' own schemas."""

from __future__ import annotations

import copy
from pathlib import Path
from typing import Any

import helm_python as helm
import kubernetes_validate
import pytest
from kubernetes_validate.utils import SchemaNotFoundError

NAMESPACE = "cityos"
# Custom resources have no schema in kubernetes-validate; test_custom_resources checks them instead.
CUSTOM_KINDS = {"HTTPRoute", "ServiceMonitor"}


def test_helm_lint_has_no_errors(chart_dir: Path, values_of: Any, scenario: str, kube_version: str) -> None:
    report = helm.lint(
        chart_dir, values_of(scenario), strict=True, namespace=NAMESPACE, kube_version=f"v{kube_version}"
    )
    errors = [m for m in report["messages"] if m["severity"] >= 2] + list(report["errors"])
    assert not errors, f"{scenario}: {errors}"


def test_every_scenario_renders_objects(rendered: dict[str, Any]) -> None:
    assert set(rendered) == {
        "broker-workers",
        "bundled",
        "external-redis-cluster-s3",
        "ingress-tls",
        "minimal",
        "production-hpa",
        "service-disabled",
    }
    for name, result in rendered.items():
        assert result.of_kind("Deployment"), name
        assert "NOTES.txt" in " ".join(result.files), name


def test_objects_validate_strictly(rendered: dict[str, Any], scenario: str, kube_version: str) -> None:
    problems: list[str] = []
    for obj in rendered[scenario].objects:
        if obj["kind"] in CUSTOM_KINDS:
            continue
        try:
            kubernetes_validate.validate(obj, kube_version, strict=True)
        except SchemaNotFoundError:
            problems.append(f"no schema for {obj['apiVersion']} {obj['kind']}")
        except kubernetes_validate.ValidationError as err:
            problems.append(f"{obj['kind']}/{obj['metadata']['name']}: {err.message}")
    assert not problems, "\n".join(problems)


def test_strict_validation_catches_an_unknown_field(rendered: dict[str, Any]) -> None:
    deployment = copy.deepcopy(rendered["minimal"].get("Deployment", "demo-cityos-broker"))
    deployment["spec"]["template"]["spec"]["containers"][0]["livenessProbes"] = {}
    with pytest.raises(kubernetes_validate.ValidationError):
        kubernetes_validate.validate(deployment, "1.33.0", strict=True)


def test_every_object_is_namespaced_and_labelled(rendered: dict[str, Any]) -> None:
    for name, result in rendered.items():
        for obj in result.objects:
            meta: dict[str, Any] = obj["metadata"]
            assert meta.get("namespace") == NAMESPACE, f"{name}: {obj['kind']}/{meta['name']}"
            assert meta["labels"]["app.kubernetes.io/instance"] == "demo"
            assert meta["labels"]["app.kubernetes.io/part-of"] == "cityos"


def test_custom_resources(rendered: dict[str, Any]) -> None:
    bundled = rendered["bundled"]
    route = bundled.get("HTTPRoute", "demo-cityos")
    assert route["apiVersion"] == "gateway.networking.k8s.io/v1"
    assert route["spec"]["parentRefs"] == [{"name": "public", "namespace": "gateway-system"}]
    assert route["spec"]["rules"][0]["backendRefs"] == [{"name": "demo-cityos-gateway", "port": 8080}]
    monitor = bundled.get("ServiceMonitor", "demo-cityos")
    assert monitor["apiVersion"] == "monitoring.coreos.com/v1"
    assert monitor["metadata"]["labels"]["release"] == "prometheus"
    assert monitor["spec"]["endpoints"][0]["port"] == "metrics"
    assert monitor["spec"]["selector"]["matchExpressions"][0]["values"] == ["broker", "gateway", "identity"]
    for service in bundled.of_kind("Service"):
        component = service["metadata"]["labels"]["app.kubernetes.io/component"]
        ports = {p["name"] for p in service["spec"]["ports"]}
        if service["metadata"]["name"].endswith("-headless"):
            # Selected by the ServiceMonitor too: without a metrics port it adds no second scrape per pod.
            assert ports == {"grpc"}, service["metadata"]["name"]
        elif component in {"broker", "gateway", "identity"}:
            assert "metrics" in ports
    workers = rendered["broker-workers"].get("ServiceMonitor", "demo-cityos")["spec"]["selector"]
    # The workers have no gRPC Service; a metrics-only headless Service lets the ServiceMonitor find them.
    assert workers["matchExpressions"][0]["values"] == ["broker", "broker-worker", "gateway", "identity"]
    worker_service = rendered["broker-workers"].get("Service", "demo-cityos-broker-worker")["spec"]
    assert worker_service["clusterIP"] == "None"
    assert [p["name"] for p in worker_service["ports"]] == ["metrics"]
    for name in rendered:
        if name not in {"bundled", "broker-workers"}:
            assert not rendered[name].of_kind("ServiceMonitor"), name
