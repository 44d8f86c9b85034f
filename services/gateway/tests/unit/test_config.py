"""Settings from the environment and the authentication mode."""

from __future__ import annotations

import logging

import pytest
from cityos_gateway.auth import OpenAuthenticator, build_authenticator
from cityos_gateway.config import GatewaySettings
from cityos_runtime.config import ConfigError


def test_defaults() -> None:
    settings = GatewaySettings.from_env({})
    assert (settings.host, settings.port, settings.broker_address) == ("0.0.0.0", 8080, "127.0.0.1:50051")
    assert (settings.max_body_bytes, settings.request_timeout, settings.cors_origins) == (8388608, 30.0, ())
    assert (settings.auth_mode, settings.default_tenant) == ("oidc", "default")


def test_values_from_environment() -> None:
    settings = GatewaySettings.from_env(
        {
            "GATEWAY_PORT": "0",
            "GATEWAY_REQUEST_TIMEOUT": "2.5",
            "GATEWAY_CORS_ORIGINS": "https://a.example, https://b.example",
            "CITYOS_DEFAULT_TENANT": "pref",
        }
    )
    assert settings.port == 0
    assert settings.request_timeout == 2.5
    assert settings.cors_origins == ("https://a.example", "https://b.example")
    assert settings.default_tenant == "pref"


@pytest.mark.parametrize(
    "environ",
    [
        {"GATEWAY_AUTH_MODE": "magic"},
        {"GATEWAY_RATE_LIMIT": "lots"},
        {"GATEWAY_PORT": "70000"},
        {"GATEWAY_REQUEST_TIMEOUT": "0"},
        {"GATEWAY_MAX_BODY_BYTES": "0"},
        {"CITYOS_DEFAULT_TENANT": "Bad Name"},
        {"BROKER_ADDRESS": "broker-0:50051,broker-1:50051"},  # names in a list: use dns:///name:port
    ],
)
def test_bad_settings_fail_fast(environ: dict[str, str]) -> None:
    with pytest.raises(ConfigError):
        GatewaySettings.from_env(environ)


def test_open_mode_warns_loudly(caplog: pytest.LogCaptureFixture) -> None:
    with caplog.at_level(logging.WARNING):
        authenticator = build_authenticator("open")
    assert isinstance(authenticator, OpenAuthenticator)
    assert "AUTHENTICATION IS OFF" in caplog.text


def test_unknown_mode_fails() -> None:
    with pytest.raises(ValueError, match="not supported"):
        build_authenticator("magic")


@pytest.mark.parametrize("address", ["10.0.0.1:50051,10.0.0.2:50051", "dns:///cityos-broker-headless:50051"])
def test_broker_address_may_name_several_brokers(address: str) -> None:
    assert GatewaySettings.from_env({"BROKER_ADDRESS": address}).broker_address == address


def test_redis_is_optional_and_read_in_every_mode() -> None:
    assert GatewaySettings.from_env({}).redis is None  # rate limits stay per replica
    settings = GatewaySettings.from_env(
        {"REDIS_MODE": "cluster", "REDIS_URL": "redis://r0:6379", "REDIS_CLUSTER_NODES": "r0:6379,r1:6379"}
    )
    assert settings.redis is not None
    assert (settings.redis.mode, settings.redis.cluster_nodes) == ("cluster", (("r0", 6379), ("r1", 6379)))
    with pytest.raises(ConfigError, match="REDIS_SENTINEL_NODES"):
        GatewaySettings.from_env({"REDIS_MODE": "sentinel", "REDIS_URL": "redis://primary/0"})
