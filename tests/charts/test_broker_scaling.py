"""Scaling the broker: the gateway balances over every broker pod, and broker workers run apart on request."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

HEADLESS = "dns:///demo-cityos-broker-headless.cityos.svc.cluster.local:50051"
WORKER = "demo-cityos-broker-worker"
ROLE_SETTINGS = ("BROKER_NOTIFIER", "BROKER_HISTORY_ENABLED")


def _data(result: Any, name: str) -> dict[str, str]:
    data: dict[str, str] = result.get("ConfigMap", name)["data"]
    return data


def _container(result: Any, name: str) -> dict[str, Any]:
    (container,) = result.get("Deployment", name)["spec"]["template"]["spec"]["containers"]
    return container


def _selects(service: dict[str, Any], component: str) -> bool:
    return bool(service["spec"].get("selector", {}).get("app.kubernetes.io/component") == component)


def _peer_components(rules: list[dict[str, Any]], side: str) -> set[str]:
    return {
        peer["podSelector"]["matchLabels"]["app.kubernetes.io/component"]
        for rule in rules
        for peer in rule.get(side, [])
        if "matchLabels" in peer.get("podSelector", {}) and "namespaceSelector" not in peer
    }


def test_every_grpc_service_has_a_headless_service(chart: Any, rendered: dict[str, Any]) -> None:
    for scenario, result in rendered.items():
        services = chart.merge_values(result.values)["services"]
        for name, svc in services.items():
            headless = result.find("Service", f"demo-cityos-{name}-headless")
            if not svc["enabled"] or svc["protocol"] == "http":
                assert headless is None, (scenario, name)
                continue
            assert headless is not None, (scenario, name)
            spec = headless["spec"]
            assert spec["clusterIP"] == "None", (scenario, name)
            assert spec["publishNotReadyAddresses"] is False, "DNS must list only ready pods"
            assert spec["selector"] == result.get("Service", f"demo-cityos-{name}")["spec"]["selector"]
            assert spec["ports"] == [
                {
                    "name": "grpc",
                    "port": svc["port"],
                    "targetPort": "grpc",
                    "protocol": "TCP",
                    "appProtocol": "kubernetes.io/h2c",
                }
            ]


def test_the_gateway_balances_over_the_headless_service(rendered: dict[str, Any]) -> None:
    for scenario, result in rendered.items():
        gateway = _data(result, "demo-cityos-gateway")
        assert gateway["BROKER_ADDRESS"] == HEADLESS, scenario
        # pick_first clients keep the ClusterIP Service: on a headless name they would all dial the first pod.
        if "IDENTITY_ADDRESS" in gateway:
            assert gateway["IDENTITY_ADDRESS"] == "demo-cityos-identity:50052", scenario
    hpa = rendered["production-hpa"]
    for caller in ("assets", "catalog", "connectors"):
        assert _data(hpa, f"demo-cityos-{caller}")["BROKER_ADDRESS"] == "demo-cityos-broker:50051", caller
    assert _data(hpa, "demo-cityos-broker")["IDENTITY_ADDRESS"] == "demo-cityos-identity:50052"


def test_the_gateway_pods_reach_the_broker_pods_the_headless_name_lists(rendered: dict[str, Any]) -> None:
    """A headless name resolves to pod IPs: the policies must admit gateway -> broker pods on the pod port."""
    result = rendered["minimal"]
    policies = {p["metadata"]["name"]: p["spec"] for p in result.of_kind("NetworkPolicy")}
    egress = [r for r in policies["demo-cityos-gateway"]["egress"] if "broker" in _peer_components([r], "to")]
    assert [r["ports"] for r in egress] == [[{"port": 50051, "protocol": "TCP"}]]
    assert "gateway" in _peer_components(policies["demo-cityos-broker"]["ingress"], "from")


def test_init_job_keeps_the_clusterip_address(render: Any, values_of: Any) -> None:
    values = values_of("minimal")
    values["services"] = {"identity": {"enabled": False}}
    values["config"]["gateway"] = {"authMode": "open"}
    (job,) = render(values).of_kind("Job")
    env = {e["name"]: e.get("value") for e in job["spec"]["template"]["spec"]["containers"][0]["env"]}
    assert env["CITYOS_INIT_BROKER_ADDRESS"] == "demo-cityos-broker:50051"


def test_cluster_domain_and_fullname_shape_the_headless_address(render: Any, values_of: Any) -> None:
    values = values_of("minimal")
    values["clusterDomain"] = "city.internal"
    values["fullnameOverride"] = "pref"
    result = render(values)
    assert result.find("Service", "pref-broker-headless") is not None
    address = _data(result, "pref-gateway")["BROKER_ADDRESS"]
    assert address == "dns:///pref-broker-headless.cityos.svc.city.internal:50051"


def test_workers_are_off_by_default(rendered: dict[str, Any]) -> None:
    for scenario, result in rendered.items():
        if scenario == "broker-workers":
            continue
        assert not result.component("broker-worker"), scenario
        broker = _data(result, "demo-cityos-broker")
        assert {k: broker[k] for k in ROLE_SETTINGS} == dict.fromkeys(ROLE_SETTINGS, "true"), scenario


def test_with_workers_serving_brokers_leave_notifier_and_history_to_them(rendered: dict[str, Any]) -> None:
    result = rendered["broker-workers"]
    serving = _data(result, "demo-cityos-broker")
    worker = _data(result, WORKER)
    assert {k: serving[k] for k in ROLE_SETTINGS} == dict.fromkeys(ROLE_SETTINGS, "false")
    assert {k: worker[k] for k in ROLE_SETTINGS} == dict.fromkeys(ROLE_SETTINGS, "true")
    # Everything else is the broker's: the same settings, its gRPC port and the identity it asks for policies.
    others = {k: v for k, v in serving.items() if k not in ROLE_SETTINGS}
    assert {k: v for k, v in worker.items() if k not in ROLE_SETTINGS} == others
    assert worker["IDENTITY_ADDRESS"] == "demo-cityos-identity:50052"
    container = _container(result, WORKER)
    broker = _container(result, "demo-cityos-broker")
    assert container["name"] == "broker-worker"
    assert container["image"] == broker["image"] == "ghcr.io/cityos/cityos-broker:0.1.0"
    assert [ref["configMapRef"]["name"] for ref in container["envFrom"]] == ["demo-cityos-config", WORKER]
    assert container["env"] == broker["env"], "Redis and S3 credentials as the broker's"
    for probe in ("startupProbe", "readinessProbe", "livenessProbe"):
        assert container[probe]["grpc"] == {"port": 50051}, "the worker serves gRPC health"
    pod = result.get("Deployment", WORKER)["spec"]["template"]["spec"]
    assert pod["serviceAccountName"] == WORKER
    assert result.get("ServiceAccount", WORKER)["automountServiceAccountToken"] is False
    checksums = {
        name: result.get("Deployment", name)["spec"]["template"]["metadata"]["annotations"]["checksum/config"]
        for name in ("demo-cityos-broker", WORKER)
    }
    assert len(set(checksums.values())) == 2, "each Deployment rolls on its own settings"


def test_no_service_sends_calls_to_the_workers(rendered: dict[str, Any]) -> None:
    result = rendered["broker-workers"]
    to_workers = [s for s in result.of_kind("Service") if _selects(s, "broker-worker")]
    assert [(s["metadata"]["name"], [p["name"] for p in s["spec"]["ports"]]) for s in to_workers] == [
        (WORKER, ["metrics"])
    ]
    for name in ("demo-cityos-broker", "demo-cityos-broker-headless"):
        assert _selects(result.get("Service", name), "broker")


def test_worker_network_policy(rendered: dict[str, Any]) -> None:
    result = rendered["broker-workers"]
    policies = {p["metadata"]["name"]: p["spec"] for p in result.of_kind("NetworkPolicy")}
    worker = policies[WORKER]
    assert worker["podSelector"]["matchLabels"]["app.kubernetes.io/component"] == "broker-worker"
    # No caller: only Prometheus on the metrics port.
    assert worker["ingress"] == [
        {
            "from": [{"namespaceSelector": {"matchLabels": {"kubernetes.io/metadata.name": "monitoring"}}}],
            "ports": [{"port": 9464, "protocol": "TCP"}],
        }
    ]
    # The broker's egress: DNS, Redis, S3 (archive), the OTel collector, identity (policies), the internet.
    assert worker["egress"] == policies["demo-cityos-broker"]["egress"]
    ports = [rule.get("ports") for rule in worker["egress"]]
    assert [{"port": 6379, "protocol": "TCP"}] in ports
    assert [{"port": 9000, "protocol": "TCP"}] in ports
    assert [{"port": 4317, "protocol": "TCP"}, {"port": 4318, "protocol": "TCP"}] in ports
    assert _peer_components(worker["egress"], "to") == {"identity"}
    blocks = [p["ipBlock"]["cidr"] for r in worker["egress"] for p in r.get("to", []) if "ipBlock" in p]
    assert blocks == ["0.0.0.0/0"], "notifications go to subscriber endpoints on the internet"
    identity_callers = _peer_components(policies["demo-cityos-identity"]["ingress"], "from")
    assert identity_callers == {"gateway", "broker", "broker-worker", "init"}
    assert "broker-worker" not in _peer_components(policies["demo-cityos-broker"]["ingress"], "from")


def test_worker_without_metrics_takes_no_ingress(render: Any, values_of: Any) -> None:
    values = values_of("minimal")
    values["services"] = {"broker": {"workers": {"enabled": True}}}
    result = render(values)
    assert result.get("NetworkPolicy", WORKER)["spec"]["ingress"] == []
    assert result.find("Service", WORKER) is None


def test_bundled_stores_admit_the_workers(render: Any, values_of: Any) -> None:
    values = values_of("bundled")
    values["services"]["broker"]["workers"] = {"enabled": True}
    result = render(values)
    for store in ("valkey", "s3"):
        (rule,) = result.get("NetworkPolicy", f"demo-cityos-{store}")["spec"]["ingress"]
        clients = rule["from"][0]["podSelector"]["matchExpressions"][0]["values"]
        assert "broker-worker" in clients, store


def test_replicas_hpa_pdb_and_resources_land_on_the_workers(chart: Any, rendered: dict[str, Any]) -> None:
    result = rendered["broker-workers"]
    broker = chart.merge_values(result.values)["services"]["broker"]
    workers = broker["workers"]
    serving = result.get("Deployment", "demo-cityos-broker")
    deployment = result.get("Deployment", WORKER)
    assert serving["spec"]["replicas"] == broker["replicas"] == 3
    assert _container(result, "demo-cityos-broker")["resources"] == broker["resources"]
    assert _container(result, WORKER)["resources"] == workers["resources"] != broker["resources"]
    assert "replicas" not in deployment["spec"], "the HPA owns the worker replicas"
    hpa = result.get("HorizontalPodAutoscaler", WORKER)["spec"]
    assert hpa["scaleTargetRef"] == {"apiVersion": "apps/v1", "kind": "Deployment", "name": WORKER}
    assert (hpa["minReplicas"], hpa["maxReplicas"]) == (2, 6)
    assert hpa["metrics"][0]["resource"]["target"]["averageUtilization"] == 75
    assert result.find("HorizontalPodAutoscaler", "demo-cityos-broker") is None
    pdb = result.get("PodDisruptionBudget", WORKER)["spec"]
    assert pdb["minAvailable"] == 1 and "maxUnavailable" not in pdb
    assert pdb["selector"]["matchLabels"]["app.kubernetes.io/component"] == "broker-worker"
    assert result.get("PodDisruptionBudget", "demo-cityos-broker")["spec"]["maxUnavailable"] == 1
    assert deployment["spec"]["template"]["spec"]["nodeSelector"] == {"cityos.example.jp/pool": "workers"}
    assert "nodeSelector" not in serving["spec"]["template"]["spec"]
    spread = deployment["spec"]["template"]["spec"]["topologySpreadConstraints"]
    assert {c["labelSelector"]["matchLabels"]["app.kubernetes.io/component"] for c in spread} == {
        "broker-worker"
    }


def test_fixed_worker_replicas_and_no_budget(render: Any, values_of: Any) -> None:
    values = values_of("minimal")
    values["services"] = {"broker": {"workers": {"enabled": True, "replicas": 3, "pdb": {"enabled": False}}}}
    result = render(values)
    assert result.get("Deployment", WORKER)["spec"]["replicas"] == 3
    assert result.find("HorizontalPodAutoscaler", WORKER) is None
    assert result.find("PodDisruptionBudget", WORKER) is None
    assert result.get("Deployment", "demo-cityos-broker")["spec"]["replicas"] == 2


def test_workers_follow_the_broker_settings(render: Any, values_of: Any) -> None:
    values = values_of("minimal")
    values["services"] = {"broker": {"workers": {"enabled": True}}}
    values["config"]["broker"] = {"notifier": {"enabled": False}}
    result = render(values)
    worker = _data(result, WORKER)
    assert (worker["BROKER_NOTIFIER"], worker["BROKER_HISTORY_ENABLED"]) == ("false", "true")
    serving = _data(result, "demo-cityos-broker")
    assert (serving["BROKER_NOTIFIER"], serving["BROKER_HISTORY_ENABLED"]) == ("false", "false")


def test_workers_with_nothing_to_do_fail_the_render(render: Any, values_of: Any) -> None:
    values = values_of("minimal")
    values["services"] = {"broker": {"workers": {"enabled": True}}}
    values["config"]["broker"] = {"notifier": {"enabled": False}, "history": {"enabled": False}}
    with pytest.raises(Exception, match="workers would have nothing to do"):
        render(values)


def test_workers_need_the_broker(render: Any, values_of: Any) -> None:
    values = values_of("minimal")
    values["services"] = {"broker": {"enabled": False, "workers": {"enabled": True}}}
    values["config"]["gateway"] = {"authMode": "oidc"}
    values["initJob"] = {"enabled": False}
    result = render(values)
    assert not result.component("broker-worker")
    assert not result.component("broker")


def test_only_callers_that_balance_get_a_headless_name(repo: Path) -> None:
    """The chart's balancedCallers table follows the code: the gateway's broker channel is round_robin."""
    source = (repo / "services" / "gateway" / "src" / "cityos_gateway" / "server.py").read_text()
    (line,) = [line for line in source.splitlines() if "settings.broker_address" in line]
    assert "balanced_target(" in line and "options=ROUND_ROBIN" in line, line
    helpers = (repo / "charts" / "cityos" / "templates" / "_helpers.tpl").read_text()
    assert '{"broker": ["gateway"]}' in helpers, "update this test with the chart's balancedCallers"


def test_the_gateway_accepts_the_rendered_address(rendered: dict[str, Any]) -> None:
    from cityos_gateway.config import GatewaySettings
    from cityos_runtime.grpc_client import balanced_target

    result = rendered["minimal"]
    environ = {**_data(result, "demo-cityos-config"), **_data(result, "demo-cityos-gateway")}
    environ["REDIS_URL"] = "redis://127.0.0.1:6379/0"
    settings = GatewaySettings.from_env(environ=environ)
    assert balanced_target(settings.broker_address) == HEADLESS


def test_servers_age_connections_so_clients_find_new_pods(rendered: dict[str, Any], render: Any) -> None:
    from cityos_runtime.grpc_server import ConnectionAge

    for scenario, result in rendered.items():
        shared = _data(result, "demo-cityos-config")
        age = ConnectionAge.from_env(environ=shared)
        assert age == ConnectionAge(max_age=300.0, grace=30.0), scenario
    values = {**rendered["minimal"].values}
    values["config"] = {**values["config"], "grpc": {"maxConnectionAge": 0}}
    shared = _data(render(values), "demo-cityos-config")
    assert ConnectionAge.from_env(environ=shared).options() == (), "0 turns the bound off"
