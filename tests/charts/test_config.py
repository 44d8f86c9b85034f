"""Values reach the services as the environment variables of the common configuration names."""

from __future__ import annotations

from typing import Any

import helm_python as helm
import pytest


def _env(result: Any, name: str) -> dict[str, Any]:
    """Every variable a service sees: both ConfigMaps plus the container's own env entries."""
    env: dict[str, Any] = dict(result.get("ConfigMap", "demo-cityos-config")["data"])
    env.update(result.get("ConfigMap", f"demo-cityos-{name}")["data"])
    container = result.get("Deployment", f"demo-cityos-{name}")["spec"]["template"]["spec"]["containers"][0]
    refs = {c["configMapRef"]["name"] for c in container["envFrom"]}
    assert refs == {"demo-cityos-config", f"demo-cityos-{name}"}
    for item in container["env"]:
        env[item["name"]] = item.get("value", item.get("valueFrom"))
    return env


def test_minimal_configuration(rendered: dict[str, Any]) -> None:
    result = rendered["minimal"]
    broker = _env(result, "broker")
    assert broker["REDIS_URL"] == "redis://redis-master.data.svc.cluster.local:6379/0"
    assert "REDIS_PASSWORD" not in broker
    assert broker["REDIS_MODE"] == "standalone"
    assert broker["BROKER_GRPC_PORT"] == "50051"
    assert broker["BROKER_AUTO_CREATE_TENANTS"] == "true"
    assert broker["BROKER_ALLOW_PRIVATE_URLS"] == "false"
    assert broker["BROKER_CONTEXT_MAX_BYTES"] == "1048576"
    assert broker["S3_ENDPOINT"] == "minio.data.svc.cluster.local:9000"
    assert broker["S3_SECURE"] == "false"
    assert broker["S3_ACCESS_KEY"] == {"secretKeyRef": {"name": "demo-cityos-s3", "key": "s3-access-key"}}
    assert broker["LOG_FORMAT"] == "json"
    assert broker["CITYOS_DEFAULT_TENANT"] == "default"
    assert "OTEL_EXPORTER_OTLP_ENDPOINT" not in broker
    gateway = _env(result, "gateway")
    assert gateway["BROKER_ADDRESS"] == "demo-cityos-broker:50051"
    assert gateway["GATEWAY_PORT"] == "8080"
    assert gateway["GATEWAY_MAX_BODY_BYTES"] == "8388608"
    assert gateway["GATEWAY_AUTH_MODE"] == "open"
    assert gateway["OTEL_SERVICE_NAME"] == "cityos-gateway"
    secret = result.get("Secret", "demo-cityos-s3")
    assert set(secret["data"]) == {"s3-access-key", "s3-secret-key"}
    assert result.find("Secret", "demo-cityos-redis") is None


def test_existing_secrets_and_redis_cluster(rendered: dict[str, Any]) -> None:
    result = rendered["external-redis-cluster-s3"]
    env = _env(result, "gateway")
    assert env["REDIS_MODE"] == "cluster"
    assert env["REDIS_CLUSTER_NODES"].split(",")[0] == "redis-0.redis.example.internal:6380"
    assert env["REDIS_URL"] == "rediss://cityos:$(REDIS_PASSWORD)@redis-0.redis.example.internal:6380"
    assert env["REDIS_PASSWORD"] == {"secretKeyRef": {"name": "cityos-redis", "key": "password"}}
    assert "S3_SECRET_KEY" not in env, "the gateway has no s3Access"
    broker = _env(result, "broker")
    assert broker["S3_SECRET_KEY"] == {"secretKeyRef": {"name": "cityos-s3", "key": "secret-key"}}
    assert (env["S3_SECURE"], env["S3_REGION"], env["S3_BUCKET"]) == ("true", "ap-northeast-1", "pref-cityos")
    assert not result.of_kind("Secret"), "existing Secrets must not be shadowed by chart Secrets"
    container = result.get("Deployment", "demo-cityos-gateway")["spec"]["template"]["spec"]["containers"][0]
    names = [item["name"] for item in container["env"]]
    assert names.index("REDIS_PASSWORD") < names.index("REDIS_URL"), "$(REDIS_PASSWORD) needs defining first"


def test_sentinel_and_otel(rendered: dict[str, Any]) -> None:
    env = _env(rendered["ingress-tls"], "broker")
    assert env["REDIS_MODE"] == "sentinel"
    assert env["REDIS_SENTINEL_MASTER"] == "cityos"
    assert env["REDIS_URL"] == "redis://:$(REDIS_PASSWORD)@cityos/0"
    gateway = _env(rendered["ingress-tls"], "gateway")
    assert gateway["GATEWAY_CORS_ORIGINS"] == "https://portal.pref.example.jp"
    hpa = _env(rendered["production-hpa"], "connectors")
    assert hpa["OTEL_EXPORTER_OTLP_ENDPOINT"] == "http://otel-collector.observability.svc.cluster.local:4317"
    assert hpa["CONNECTORS_GRPC_PORT"] == "50051"
    assert hpa["BROKER_ADDRESS"] == "demo-cityos-broker:50051"
    assert "IDENTITY_ADDRESS" not in hpa, "connectors is not a caller of identity"


def test_extra_and_secret_env(rendered: dict[str, Any]) -> None:
    env = _env(rendered["production-hpa"], "identity")
    assert env["IDENTITY_ISSUER"] == "https://api.cityos.pref.example.jp"
    assert env["IDENTITY_GRPC_PORT"] == "50051"
    assert env["IDENTITY_KEY_ENCRYPTION_SECRET"] == {
        "secretKeyRef": {"name": "cityos-identity", "key": "key-encryption-secret"}
    }
    assert "IDENTITY_KEY_ENCRYPTION_SECRET" not in _env(rendered["production-hpa"], "broker")


def test_config_change_rolls_the_pods(render: Any, values_of: Any) -> None:
    values = values_of("minimal")
    before = render(values).get("Deployment", "demo-cityos-broker")
    values["config"] = {"logLevel": "DEBUG"}
    after = render(values).get("Deployment", "demo-cityos-broker")
    key = "checksum/config"
    assert (
        before["spec"]["template"]["metadata"]["annotations"][key]
        != after["spec"]["template"]["metadata"]["annotations"][key]
    )


def test_ingress_with_tls(rendered: dict[str, Any]) -> None:
    result = rendered["ingress-tls"]
    ingress = result.get("Ingress", "demo-cityos")
    assert ingress["spec"]["ingressClassName"] == "nginx"
    assert ingress["spec"]["tls"] == [
        {"hosts": ["api.cityos.pref.example.jp"], "secretName": "demo-cityos-tls"}
    ]
    backend = ingress["spec"]["rules"][0]["http"]["paths"][0]["backend"]["service"]
    assert backend == {"name": "demo-cityos-gateway", "port": {"name": "http"}}
    assert ingress["metadata"]["annotations"]["cert-manager.io/cluster-issuer"] == "letsencrypt"
    assert not result.of_kind("HTTPRoute")
    assert not rendered["minimal"].of_kind("Ingress")


def test_ingress_and_httproute_are_exclusive(render: Any, values_of: Any) -> None:
    values = values_of("ingress-tls")
    values["httpRoute"] = {"enabled": True, "parentRefs": [{"name": "public"}]}
    with pytest.raises(helm.HelmError, match="either ingress or httpRoute"):
        render(values)


def test_missing_stores_fail_with_a_clear_message(render: Any) -> None:
    with pytest.raises(helm.HelmError, match=r"redis.standalone.host is required"):
        render({"s3": {"endpoint": "s3:9000", "existingSecret": "x"}})
    with pytest.raises(helm.HelmError, match=r"s3.endpoint is required"):
        render({"redis": {"standalone": {"host": "r"}}, "s3": {"existingSecret": "x"}})


def test_bundled_stores(rendered: dict[str, Any]) -> None:
    result = rendered["bundled"]
    env = _env(result, "broker")
    assert env["REDIS_URL"] == "redis://:$(REDIS_PASSWORD)@demo-cityos-valkey:6379/0"
    assert env["S3_ENDPOINT"] == "demo-cityos-s3:8333"
    assert env["METRICS_PORT"] == "9464"
    valkey = result.get("StatefulSet", "demo-cityos-valkey")
    container = valkey["spec"]["template"]["spec"]["containers"][0]
    assert container["image"].startswith("docker.io/valkey/valkey:")
    assert "--requirepass" in container["args"]
    seaweed = result.get("StatefulSet", "demo-cityos-s3")["spec"]["template"]["spec"]["containers"][0]
    assert seaweed["image"].startswith("docker.io/chrislusf/seaweedfs:")
    assert "bitnami" not in str(result.objects).lower()
    identities = result.get("Secret", "demo-cityos-s3-config")["stringData"]["s3.json"]
    assert '"accessKey":"cityos"' in identities
    assert not rendered["minimal"].of_kind("StatefulSet")
