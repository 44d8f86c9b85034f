"""Environment readers fail fast and name the variable."""

from __future__ import annotations

import pytest
from cityos_runtime.config import (
    CommonSettings,
    ConfigError,
    env_bool,
    env_float,
    env_int,
    env_list,
    env_str,
)


def test_missing_required_variable_is_named() -> None:
    with pytest.raises(ConfigError, match="REDIS_URL is required"):
        env_str("REDIS_URL", environ={})


def test_blank_value_counts_as_unset() -> None:
    assert env_str("X", "fallback", environ={"X": "   "}) == "fallback"
    with pytest.raises(ConfigError, match="X is required"):
        env_int("X", environ={"X": ""})


def test_values_are_stripped_and_read() -> None:
    env = {"S": " host ", "I": "42", "F": "2.5", "L": "a, b,,c ,"}
    assert env_str("S", environ=env) == "host"
    assert env_int("I", environ=env) == 42
    assert env_float("F", environ=env) == 2.5
    assert env_list("L", environ=env) == ["a", "b", "c"]


def test_defaults_apply_only_when_unset() -> None:
    assert env_int("PORT", 50051, environ={}) == 50051
    assert env_float("T", 3.0, environ={}) == 3.0
    assert env_bool("B", False, environ={}) is False
    assert env_list("L", [], environ={}) == []
    assert env_int("PORT", 50051, environ={"PORT": "0"}) == 0


@pytest.mark.parametrize(
    ("reader", "value", "message"),
    [
        (env_int, "12a", "PORT must be an integer, got '12a'"),
        (env_int, "1.5", "PORT must be an integer"),
        (env_float, "soon", "PORT must be a number, got 'soon'"),
        (env_float, "nan", "PORT must be a finite number"),
        (env_float, "inf", "PORT must be a finite number"),
        (env_bool, "maybe", "PORT must be one of true/false/1/0/yes/no, got 'maybe'"),
    ],
)
def test_malformed_values_name_the_variable_and_value(reader: object, value: str, message: str) -> None:
    with pytest.raises(ConfigError, match=message.replace("(", r"\(")):
        reader("PORT", environ={"PORT": value})  # type: ignore[operator]


@pytest.mark.parametrize(
    ("raw", "expected"),
    [("true", True), ("YES", True), ("1", True), ("False", False), ("no", False), ("0", False)],
)
def test_bool_spellings(raw: str, expected: bool) -> None:
    assert env_bool("FLAG", environ={"FLAG": raw}) is expected


def test_bounds_name_the_variable() -> None:
    with pytest.raises(ConfigError, match="BROKER_MAX_LIMIT must be >= 1, got 0"):
        env_int("BROKER_MAX_LIMIT", environ={"BROKER_MAX_LIMIT": "0"}, min_value=1)
    with pytest.raises(ConfigError, match="GATEWAY_PORT must be <= 65535"):
        env_int("GATEWAY_PORT", environ={"GATEWAY_PORT": "70000"}, max_value=65535)


def test_reads_process_environment_by_default(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("CITYOS_TEST_VALUE", "7")
    assert env_int("CITYOS_TEST_VALUE") == 7


def test_common_settings_defaults() -> None:
    settings = CommonSettings.from_env("broker", environ={})
    assert settings == CommonSettings("broker", "INFO", "json", None, "default")


def test_common_settings_from_env() -> None:
    env = {
        "LOG_LEVEL": "debug",
        "LOG_FORMAT": "TEXT",
        "OTEL_EXPORTER_OTLP_ENDPOINT": "http://collector:4317",
        "CITYOS_DEFAULT_TENANT": "sapporo",
        "METRICS_PORT": "9464",
    }
    settings = CommonSettings.from_env("gateway", environ=env)
    assert settings == CommonSettings("gateway", "DEBUG", "text", "http://collector:4317", "sapporo", 9464)
    with pytest.raises(AttributeError):
        settings.log_level = "INFO"  # type: ignore[misc]


@pytest.mark.parametrize(
    ("name", "value"),
    [("LOG_LEVEL", "chatty"), ("LOG_FORMAT", "xml"), ("METRICS_PORT", "http"), ("METRICS_PORT", "70000")],
)
def test_common_settings_reject_bad_values(name: str, value: str) -> None:
    with pytest.raises(ConfigError, match=name):
        CommonSettings.from_env("broker", environ={name: value})
