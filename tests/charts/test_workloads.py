"""Each service's Deployment, HPA, PDB and ServiceAccount carry the values given for that service."""

from __future__ import annotations

from typing import Any

import pytest

SERVICES = ["gateway", "broker", "identity", "assets", "catalog", "connectors"]


def _container(deployment: dict[str, Any]) -> dict[str, Any]:
    containers = deployment["spec"]["template"]["spec"]["containers"]
    assert len(containers) == 1
    return containers[0]


def test_replicas_hpa_and_resources_land_on_their_service(chart: Any, rendered: dict[str, Any]) -> None:
    for scenario, result in rendered.items():
        effective = chart.merge_values(result.values)
        for name in SERVICES:
            svc = effective["services"][name]
            if not svc["enabled"]:
                continue
            deployment = result.get("Deployment", f"demo-cityos-{name}")
            assert _container(deployment)["resources"] == svc["resources"], (scenario, name)
            hpa = result.find("HorizontalPodAutoscaler", f"demo-cityos-{name}")
            if svc["autoscaling"]["enabled"]:
                assert hpa is not None, (scenario, name)
                assert "replicas" not in deployment["spec"], f"{scenario}/{name}: HPA and replicas"
                assert hpa["spec"]["minReplicas"] == svc["autoscaling"]["minReplicas"]
                assert hpa["spec"]["maxReplicas"] == svc["autoscaling"]["maxReplicas"]
                assert hpa["spec"]["scaleTargetRef"] == {
                    "apiVersion": "apps/v1",
                    "kind": "Deployment",
                    "name": f"demo-cityos-{name}",
                }
            else:
                assert hpa is None, (scenario, name)
                assert deployment["spec"]["replicas"] == svc["replicas"], (scenario, name)


def test_production_hpa_scales_every_service_with_its_metrics(rendered: dict[str, Any]) -> None:
    result = rendered["production-hpa"]
    hpas = {
        h["metadata"]["labels"]["app.kubernetes.io/component"]: h
        for h in result.of_kind("HorizontalPodAutoscaler")
    }
    assert set(hpas) == set(SERVICES)
    assert not [d for d in result.of_kind("Deployment") if "replicas" in d["spec"]]
    gateway = hpas["gateway"]["spec"]
    assert [m["type"] for m in gateway["metrics"]] == ["Resource", "Pods"]
    assert gateway["metrics"][0]["resource"]["target"]["averageUtilization"] == 65
    assert gateway["metrics"][1]["pods"]["metric"]["name"] == "http_server_active_requests"
    assert gateway["behavior"]["scaleDown"]["stabilizationWindowSeconds"] == 300
    broker = hpas["broker"]["spec"]
    assert [
        (m["resource"]["name"], m["resource"]["target"]["averageUtilization"]) for m in broker["metrics"]
    ] == [
        ("cpu", 60),
        ("memory", 80),
    ]
    assert "behavior" not in broker
    assert (hpas["gateway"]["spec"]["minReplicas"], hpas["broker"]["spec"]["maxReplicas"]) == (3, 24)


def test_disabled_services_render_no_objects(rendered: dict[str, Any]) -> None:
    for scenario, result in rendered.items():
        enabled = {
            o["metadata"]["labels"]["app.kubernetes.io/component"] for o in result.of_kind("Deployment")
        }
        for name in set(SERVICES) - enabled:
            assert not result.component(name), f"{scenario}: objects of disabled {name}"
            for cm in result.of_kind("ConfigMap"):
                assert f"{name.upper()}_ADDRESS" not in cm.get("data", {}), (scenario, name)
    disabled = rendered["service-disabled"]
    assert not disabled.component("connectors")
    assert {"identity", "assets", "catalog"} <= {
        d["metadata"]["labels"]["app.kubernetes.io/component"] for d in disabled.of_kind("Deployment")
    }
    assert {o["kind"] for o in rendered["minimal"].component("broker")} == {
        "ConfigMap",
        "Deployment",
        "NetworkPolicy",
        "PodDisruptionBudget",
        "Service",
        "ServiceAccount",
    }


def test_pods_are_hardened(rendered: dict[str, Any]) -> None:
    for scenario, result in rendered.items():
        pods = [*result.of_kind("Deployment"), *result.of_kind("StatefulSet"), *result.of_kind("Job")]
        for workload in pods:
            spec = workload["spec"]["template"]["spec"]
            where = f"{scenario}: {workload['kind']}/{workload['metadata']['name']}"
            assert spec["automountServiceAccountToken"] is False, where
            assert spec["securityContext"]["runAsNonRoot"] is True, where
            assert spec["securityContext"]["seccompProfile"] == {"type": "RuntimeDefault"}, where
            for container in spec["containers"]:
                ctx = container["securityContext"]
                assert ctx["readOnlyRootFilesystem"] is True, where
                assert ctx["allowPrivilegeEscalation"] is False, where
                assert ctx["capabilities"] == {"drop": ["ALL"]}, where
                assert ctx["runAsUser"] >= 10000, where
                assert container["resources"]["requests"] and container["resources"]["limits"], where
                assert "/tmp" in {m["mountPath"] for m in container["volumeMounts"]}, where


@pytest.mark.parametrize(
    ("name", "probe_kind", "port"),
    [("broker", "grpc", 50051), ("identity", "grpc", 50052), ("gateway", "httpGet", 8080)],
)
def test_probes_preStop_and_spread(rendered: dict[str, Any], name: str, probe_kind: str, port: int) -> None:
    deployment = rendered["minimal"].get("Deployment", f"demo-cityos-{name}")
    pod = deployment["spec"]["template"]["spec"]
    container = _container(deployment)
    for probe in ("startupProbe", "readinessProbe", "livenessProbe"):
        assert probe_kind in container[probe], probe
    assert [p["containerPort"] for p in container["ports"]] == [port]
    if probe_kind == "grpc":
        for probe in ("startupProbe", "readinessProbe", "livenessProbe"):
            assert container[probe]["grpc"] == {"port": port}, probe
    else:
        assert container["readinessProbe"]["httpGet"]["path"] == "/readyz"
        assert container["livenessProbe"]["httpGet"]["path"] == "/healthz"
    assert container["lifecycle"]["preStop"]["exec"]["command"] == ["sleep", "5"]
    assert pod["terminationGracePeriodSeconds"] > 5
    assert {c["topologyKey"] for c in pod["topologySpreadConstraints"]} == {
        "topology.kubernetes.io/zone",
        "kubernetes.io/hostname",
    }
    assert pod["serviceAccountName"] == f"demo-cityos-{name}"
    account = rendered["minimal"].get("ServiceAccount", f"demo-cityos-{name}")
    assert account["automountServiceAccountToken"] is False
    assert container["image"] == f"ghcr.io/cityos/cityos-{name}:0.1.0"


def test_pdb_and_image_overrides(render: Any, values_of: Any) -> None:
    values = values_of("minimal")
    values["image"] = {"digest": "sha256:" + "a" * 64}
    values["services"] = {"broker": {"pdb": {"minAvailable": 1}}, "gateway": {"pdb": {"enabled": False}}}
    result = render(values)
    assert result.get("PodDisruptionBudget", "demo-cityos-broker")["spec"] == {
        "minAvailable": 1,
        "selector": {
            "matchLabels": {
                "app.kubernetes.io/name": "cityos",
                "app.kubernetes.io/instance": "demo",
                "app.kubernetes.io/component": "broker",
            }
        },
    }
    assert result.find("PodDisruptionBudget", "demo-cityos-gateway") is None
    image = _container(result.get("Deployment", "demo-cityos-broker"))["image"]
    assert image == "ghcr.io/cityos/cityos-broker@sha256:" + "a" * 64
