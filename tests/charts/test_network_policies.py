"""NetworkPolicies: only the gateway is reachable from outside; every service only from its callers."""

from __future__ import annotations

from typing import Any

INTERNET = "0.0.0.0/0"
# Scenarios with the ServiceMonitor on: every service then admits Prometheus on the metrics port.
METRICS_SCENARIOS = {"bundled", "broker-workers"}


def _components(peers: list[dict[str, Any]]) -> set[str]:
    """Components named by in-release pod selectors."""
    return {
        p["podSelector"]["matchLabels"]["app.kubernetes.io/component"]
        for p in peers
        if "podSelector" in p and "namespaceSelector" not in p and "matchLabels" in p["podSelector"]
    }


def _policies(result: Any) -> dict[str, dict[str, Any]]:
    return {
        p["metadata"]["labels"]["app.kubernetes.io/component"]: p["spec"]
        for p in result.of_kind("NetworkPolicy")
    }


def _workers_on(services: dict[str, Any]) -> bool:
    return bool(services["broker"]["enabled"] and services["broker"]["workers"]["enabled"])


def test_each_service_is_reachable_only_by_its_enabled_callers(chart: Any, rendered: dict[str, Any]) -> None:
    for scenario, result in rendered.items():
        effective = chart.merge_values(result.values)
        services = effective["services"]
        enabled = {name for name, svc in services.items() if svc["enabled"]}
        policies = _policies(result)
        for name in enabled:
            spec = policies[name]
            assert spec["policyTypes"] == ["Ingress", "Egress"]
            callers: set[str] = set()
            for rule in spec["ingress"]:
                callers |= _components(rule["from"])
            expected = set(services[name]["callers"]) & enabled
            if "broker" in expected and _workers_on(services):
                expected.add("broker-worker")  # the workers run the broker's code and make its calls
            job_calls = {"gateway", "identity"} if "identity" in enabled else {"broker"}
            if name in job_calls and effective["initJob"]["enabled"]:
                expected.add("init")  # the Job creates the first tenant there
            assert callers == expected, f"{scenario}/{name}: {callers} != {expected}"


def test_only_the_gateway_the_broker_and_the_init_job_reach_identity(rendered: dict[str, Any]) -> None:
    for scenario, result in rendered.items():
        spec = _policies(result)["identity"]
        with_metrics = scenario in METRICS_SCENARIOS
        assert len(spec["ingress"]) == 1 + with_metrics, scenario  # + the metrics rule
        rule = spec["ingress"][0]
        # The broker's notifier reads the access policies that filter notifications; with workers it runs
        # in the broker-worker pods.
        allowed = {"gateway", "broker", "init"}
        if scenario == "broker-workers":
            allowed.add("broker-worker")
        assert _components(rule["from"]) == allowed, scenario
        assert len(rule["from"]) == len(allowed), f"{scenario}: an extra peer may reach identity"
        assert rule["ports"] == [{"port": 50052, "protocol": "TCP"}]
        for name, other in _policies(result).items():
            callees = set().union(*(_components(r.get("to", [])) for r in other["egress"]))
            assert ("identity" in callees) == (name in allowed), f"{scenario}: {name} -> identity"


def test_init_job_reaches_only_the_services_it_calls(
    rendered: dict[str, Any], render: Any, values_of: Any
) -> None:
    spec = _policies(rendered["minimal"])["init"]
    assert spec["ingress"] == []
    callees = [(_components(r.get("to", [])), r["ports"]) for r in spec["egress"] if r.get("to")]
    assert ({"gateway"}, [{"port": 8080, "protocol": "TCP"}]) in callees
    assert ({"identity"}, [{"port": 50052, "protocol": "TCP"}]) in callees
    assert set().union(*(c for c, _ in callees)) == {"gateway", "identity"}
    values = values_of("minimal")
    values["services"] = {"identity": {"enabled": False}}
    values["config"]["gateway"] = {"authMode": "open"}
    policies = _policies(render(values))
    callees = [(_components(r.get("to", [])), r["ports"]) for r in policies["init"]["egress"] if r.get("to")]
    assert set().union(*(c for c, _ in callees)) == {"broker"}, "without identity the Job calls the broker"
    assert "init" in _components(policies["broker"]["ingress"][0]["from"])


def test_gateway_calls_every_enabled_service(rendered: dict[str, Any]) -> None:
    result = rendered["production-hpa"]
    egress = _policies(result)["gateway"]["egress"]
    callees = set().union(*(_components(rule.get("to", [])) for rule in egress))
    assert callees == {"broker", "identity", "assets", "catalog", "connectors"}
    broker_ingress = _policies(result)["broker"]["ingress"]
    assert _components(broker_ingress[0]["from"]) == {"gateway", "assets", "connectors", "catalog"}
    minimal = _policies(rendered["minimal"])
    assert _components(minimal["broker"]["ingress"][0]["from"]) == {"gateway"}
    gateway_callers = set().union(*(_components(rule["from"]) for rule in minimal["gateway"]["ingress"]))
    assert gateway_callers == {"init"}, "in the release only the init Job calls the gateway"


def test_only_the_gateway_accepts_traffic_from_outside_the_release(rendered: dict[str, Any]) -> None:
    for scenario, result in rendered.items():
        metrics_port = 9464
        for name, spec in _policies(result).items():
            outside = [
                rule
                for rule in spec["ingress"]
                if any("namespaceSelector" in p or "ipBlock" in p for p in rule["from"])
            ]
            if name == "gateway":
                assert outside[0]["from"] == [
                    {"namespaceSelector": {"matchLabels": {"kubernetes.io/metadata.name": "ingress-nginx"}}}
                ]
                assert outside[0]["ports"] == [{"port": 8080, "protocol": "TCP"}]
                outside = outside[1:]
            for rule in outside:  # only Prometheus, only on the metrics port
                assert rule["ports"] == [{"port": metrics_port, "protocol": "TCP"}], (scenario, name)
                assert scenario in METRICS_SCENARIOS, (scenario, name)


def test_internet_egress_only_for_broker_and_connectors(rendered: dict[str, Any]) -> None:
    result = rendered["production-hpa"]
    for name, spec in _policies(result).items():
        internet = [
            rule
            for rule in spec["egress"]
            for p in rule.get("to", [])
            if p.get("ipBlock", {}).get("cidr") == INTERNET
        ]
        if name in {"broker", "connectors"}:
            assert len(internet) == 1, name
            blocked = internet[0]["to"][0]["ipBlock"]["except"]
            assert {"10.0.0.0/8", "169.254.0.0/16", "192.168.0.0/16"} <= set(blocked)
        else:
            assert not internet, name


def test_store_egress_follows_the_redis_and_s3_settings(rendered: dict[str, Any]) -> None:
    minimal = _policies(rendered["minimal"])["broker"]["egress"]
    ports = [rule.get("ports") for rule in minimal]
    assert [{"port": 53, "protocol": "UDP"}, {"port": 53, "protocol": "TCP"}] in ports
    assert [{"port": 6379, "protocol": "TCP"}] in ports
    assert [{"port": 9000, "protocol": "TCP"}] in ports
    external = _policies(rendered["external-redis-cluster-s3"])["gateway"]["egress"]
    redis = [rule for rule in external if rule.get("ports") == [{"port": 6380, "protocol": "TCP"}]]
    assert redis and redis[0]["to"] == [{"ipBlock": {"cidr": "10.20.0.0/16"}}]
    assert [{"port": 443, "protocol": "TCP"}] not in [rule.get("ports") for rule in external], "no s3Access"
    broker = _policies(rendered["external-redis-cluster-s3"])["broker"]["egress"]
    assert [{"port": 443, "protocol": "TCP"}] in [rule.get("ports") for rule in broker]
    sentinel = _policies(rendered["ingress-tls"])["broker"]["egress"]
    assert [{"port": 26379, "protocol": "TCP"}, {"port": 6379, "protocol": "TCP"}] in [
        rule.get("ports") for rule in sentinel
    ]
    otel = _policies(rendered["production-hpa"])["assets"]["egress"]
    assert {
        "to": [{"namespaceSelector": {"matchLabels": {"kubernetes.io/metadata.name": "observability"}}}],
        "ports": [{"port": 4317, "protocol": "TCP"}, {"port": 4318, "protocol": "TCP"}],
    } in otel


def test_bundled_stores_accept_only_the_release_services(rendered: dict[str, Any]) -> None:
    result = rendered["bundled"]
    policies = _policies(result)
    for store, port, clients in (
        ("valkey", 6379, ["broker", "gateway", "identity"]),
        ("s3", 8333, ["broker"]),
    ):
        spec = policies[store]
        assert spec["egress"] == []
        (rule,) = spec["ingress"]
        selector = rule["from"][0]["podSelector"]
        assert selector["matchExpressions"][0]["values"] == clients
        assert rule["ports"] == [{"port": port, "protocol": "TCP"}]
    broker_to = [p for rule in policies["broker"]["egress"] for p in rule.get("to", [])]
    assert {
        "podSelector": {
            "matchLabels": {
                "app.kubernetes.io/name": "cityos",
                "app.kubernetes.io/instance": "demo",
                "app.kubernetes.io/component": "valkey",
            }
        }
    } in broker_to


def test_network_policies_can_be_turned_off(render: Any, values_of: Any) -> None:
    values = values_of("minimal")
    values["networkPolicy"] = {"enabled": False}
    assert not render(values).of_kind("NetworkPolicy")
