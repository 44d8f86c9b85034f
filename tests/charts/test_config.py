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
    # The gateway balances over every broker pod (round_robin) through the headless Service.
    assert gateway["BROKER_ADDRESS"] == "dns:///demo-cityos-broker-headless.cityos.svc.cluster.local:50051"
    assert gateway["GATEWAY_PORT"] == "8080"
    assert gateway["GATEWAY_MAX_BODY_BYTES"] == "8388608"
    assert gateway["GATEWAY_AUTH_MODE"] == "oidc"
    assert gateway["IDENTITY_ADDRESS"] == "demo-cityos-identity:50052"
    assert "OTEL_SERVICE_NAME" not in gateway, "the services name themselves; the variable would be ignored"
    assert gateway["IDENTITY_ISSUER"] == "https://cityos.pref.example.jp"
    assert (gateway["IDENTITY_AUDIENCE"], gateway["GATEWAY_RATE_LIMIT"]) == ("cityos", "")
    assert (broker["BROKER_HISTORY_RETENTION"], broker["BROKER_HISTORY_ENABLED"]) == ("P7D", "true")
    assert (broker["BROKER_NOTIFIER"], broker["BROKER_NOTIFY_BACKOFF"]) == ("true", "0.5")
    assert (broker["BROKER_CHANGES_MAXLEN"], broker["BROKER_NOTIFY_DEDUP_TTL"]) == ("100000", "86400")
    secret = result.get("Secret", "demo-cityos-s3")
    assert set(secret["data"]) == {"s3-access-key", "s3-secret-key"}
    assert result.find("Secret", "demo-cityos-redis") is None
    assert result.find("Secret", "demo-cityos-identity") is None, "config.identity.existingSecret is used"


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


def test_identity_settings_and_secrets(rendered: dict[str, Any]) -> None:
    result = rendered["production-hpa"]
    env = _env(result, "identity")
    assert env["IDENTITY_ISSUER"] == "https://api.cityos.pref.example.jp"
    assert (env["IDENTITY_GRPC_HOST"], env["IDENTITY_GRPC_PORT"]) == ("0.0.0.0", "50052")
    assert (env["IDENTITY_ACCESS_TOKEN_TTL"], env["IDENTITY_REFRESH_TOKEN_TTL"]) == ("600", "2592000")
    assert (env["IDENTITY_KEY_ROTATION_INTERVAL"], env["IDENTITY_SESSION_TTL"]) == ("2592000", "28800")
    assert (env["IDENTITY_LOCKOUT_THRESHOLD"], env["IDENTITY_LOCKOUT_WINDOW"]) == ("5", "900")
    assert env["IDENTITY_AUDIENCE"] == "cityos"
    assert env["REDIS_URL"].startswith("redis://:$(REDIS_PASSWORD)@redis.data.svc.cluster.local:6379")
    assert env["IDENTITY_KEY_ENCRYPTION_SECRET"] == {
        "secretKeyRef": {"name": "cityos-identity", "key": "key-encryption-secret"}
    }
    assert env["IDENTITY_BOOTSTRAP_ADMIN_PASSWORD"] == {
        "secretKeyRef": {"name": "cityos-identity", "key": "bootstrap-admin-password"}
    }
    assert env["OTEL_RESOURCE_ATTRIBUTES"] == "deployment.environment=production", "extraEnv"
    assert "S3_SECRET_KEY" not in env, "identity keeps nothing in S3"
    for other in ("broker", "gateway", "assets"):
        assert not {"IDENTITY_KEY_ENCRYPTION_SECRET", "IDENTITY_BOOTSTRAP_ADMIN_PASSWORD"} & set(
            _env(result, other)
        ), other
    assert _env(result, "broker")["BROKER_AUTO_CREATE_TENANTS"] == "false"
    gateway = _env(result, "gateway")
    assert (gateway["GATEWAY_RATE_LIMIT"], gateway["GATEWAY_AUTH_MODE"]) == ("3000/min", "oidc")
    assert gateway["IDENTITY_ISSUER"] == env["IDENTITY_ISSUER"], "the gateway must expect identity's issuer"
    assert _env(result, "broker")["BROKER_HISTORY_RETENTION"] == "P30D"
    custom = _env(rendered["external-redis-cluster-s3"], "identity")["IDENTITY_KEY_ENCRYPTION_SECRET"]
    assert custom == {"secretKeyRef": {"name": "cityos-identity", "key": "kek"}}


def test_identity_issuer_follows_the_public_host(
    render: Any, rendered: dict[str, Any], values_of: Any
) -> None:
    assert (
        _env(rendered["ingress-tls"], "identity")["IDENTITY_ISSUER"] == "https://api.cityos.pref.example.jp"
    )
    assert _env(rendered["bundled"], "identity")["IDENTITY_ISSUER"] == "https://cityos.localtest.me"
    assert _env(rendered["minimal"], "identity")["IDENTITY_ISSUER"] == "https://cityos.pref.example.jp"
    values = values_of("minimal")
    del values["config"]["identity"]["issuer"]
    with pytest.raises(helm.HelmError, match=r"config\.identity\.issuer is required"):
        render(values)


def test_identity_secret_is_required_never_generated(
    render: Any, rendered: dict[str, Any], values_of: Any
) -> None:
    secret = rendered["bundled"].get("Secret", "demo-cityos-identity")
    assert set(secret["data"]) == {
        "key-encryption-secret",
        "bootstrap-admin-password",
        "tenant-admin-password",
    }
    values = values_of("minimal")
    del values["config"]["identity"]["existingSecret"]
    with pytest.raises(helm.HelmError, match=r"config\.identity\.keyEncryptionSecret is required"):
        render(values)
    values["config"]["identity"]["keyEncryptionSecret"] = "k" * 16
    with pytest.raises(helm.HelmError, match=r"config\.identity\.bootstrapAdminPassword is required"):
        render(values)
    values["config"]["identity"]["bootstrapAdminPassword"] = "p" * 10
    first = render(values).get("Secret", "demo-cityos-identity")["data"]
    assert first == render(values).get("Secret", "demo-cityos-identity")["data"], "renders must be stable"
    values["services"] = {"identity": {"enabled": False}}
    values["config"]["gateway"] = {"authMode": "open"}
    assert render(values).find("Secret", "demo-cityos-identity") is None


def test_env_overrides_cannot_duplicate_chart_settings(render: Any, values_of: Any) -> None:
    values = values_of("minimal")
    values["services"] = {
        "identity": {"secretEnv": {"IDENTITY_KEY_ENCRYPTION_SECRET": {"secretName": "x", "key": "k"}}}
    }
    with pytest.raises(
        helm.HelmError, match=r"secretEnv\.IDENTITY_KEY_ENCRYPTION_SECRET is set by the chart"
    ):
        render(values)
    values["services"] = {"broker": {"extraEnv": {"BROKER_MAX_LIMIT": "5"}}}
    with pytest.raises(helm.HelmError, match=r"extraEnv\.BROKER_MAX_LIMIT is set by the chart"):
        render(values)
    values["services"] = {"broker": {"extraEnv": {"LOG_LEVEL": "DEBUG"}}}  # a shared setting, per service
    result = render(values)
    assert result.get("ConfigMap", "demo-cityos-broker")["data"]["LOG_LEVEL"] == "DEBUG"
    container = result.get("Deployment", "demo-cityos-broker")["spec"]["template"]["spec"]["containers"][0]
    assert [ref["configMapRef"]["name"] for ref in container["envFrom"]][-1] == "demo-cityos-broker"
    before = render(values_of("minimal")).get("Deployment", "demo-cityos-broker")["spec"]["template"]
    after = result.get("Deployment", "demo-cityos-broker")["spec"]["template"]
    key = "checksum/config"
    assert before["metadata"]["annotations"][key] != after["metadata"]["annotations"][key], (
        "extraEnv rolls pods"
    )


def test_oidc_needs_identity(render: Any, values_of: Any) -> None:
    values = values_of("minimal")
    values["services"] = {"identity": {"enabled": False}}
    with pytest.raises(helm.HelmError, match=r"authMode=oidc needs services\.identity\.enabled"):
        render(values)
    values["config"]["gateway"] = {"authMode": "open"}
    gateway = _env(render(values), "gateway")
    assert gateway["GATEWAY_AUTH_MODE"] == "open"
    assert not {"IDENTITY_ADDRESS", "IDENTITY_ISSUER"} & set(gateway)


def test_notes_warn_about_open_mode_and_unsupported_settings(
    render: Any, rendered: dict[str, Any], values_of: Any
) -> None:
    def notes(result: Any) -> str:
        return next(text for path, text in result.files.items() if path.endswith("NOTES.txt"))

    assert "AUTHENTICATION IS OFF" not in notes(rendered["minimal"])
    assert "not supported by the services yet" not in notes(rendered["minimal"])
    values = values_of("minimal")
    values["config"]["gateway"] = {"authMode": "open"}
    text = notes(render(values))
    assert "WARNING: AUTHENTICATION IS OFF" in text and "EVERY tenant" in text
    # Cluster and Sentinel are honoured by the services (cityos_runtime.redis_connect): no warning, only the
    # Sentinel authentication limit.
    assert "not supported by the services" not in notes(rendered["external-redis-cluster-s3"])
    assert "without a password" in notes(rendered["ingress-tls"])
    assert "Prometheus" not in notes(rendered["bundled"])  # the ServiceMonitor's targets serve /metrics now


def test_config_change_rolls_the_pods(render: Any, values_of: Any) -> None:
    values = values_of("minimal")
    before = render(values).get("Deployment", "demo-cityos-broker")
    values["config"]["logLevel"] = "DEBUG"
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


@pytest.mark.parametrize(
    ("shape", "mode"),
    [
        ("minimal", "standalone"),
        ("bundled", "standalone"),
        ("external-redis-cluster-s3", "cluster"),
        ("ingress-tls", "sentinel"),
    ],
)
def test_every_service_connects_as_the_chart_configures_redis(
    rendered: dict[str, Any], shape: str, mode: str
) -> None:
    """The variables the chart renders are exactly what cityos_runtime.redis_connect reads, in every mode."""
    from cityos_runtime.redis_connect import RedisSettings, connect_redis
    from redis.asyncio import RedisCluster

    for service in ("broker", "identity", "gateway"):
        env = _env(rendered[shape], service)
        # The kubelet expands $(REDIS_PASSWORD) verbatim from the Secret (docs/operations.md: URL-safe).
        password = "s3cret-Pass_word.1" if isinstance(env.get("REDIS_PASSWORD"), dict) else ""
        environ = {k: v.replace("$(REDIS_PASSWORD)", password) for k, v in env.items() if isinstance(v, str)}
        settings = RedisSettings.from_env(environ=environ)
        assert settings.mode == mode, service
        client = connect_redis(settings)
        if mode == "cluster":
            assert isinstance(client, RedisCluster)
            assert [f"{n.host}:{n.port}" for n in client.startup_nodes] == env["REDIS_CLUSTER_NODES"].split(
                ","
            )
            assert client.connection_kwargs["password"] == password
        elif mode == "sentinel":
            assert settings.sentinel_master == env["REDIS_SENTINEL_MASTER"]
            assert [f"{h}:{p}" for h, p in settings.sentinel_nodes] == env["REDIS_SENTINEL_NODES"].split(",")
            assert client.connection_pool.connection_kwargs.get("password") == (password or None)
        else:
            assert client.connection_pool.connection_kwargs.get("password") == (password or None)
