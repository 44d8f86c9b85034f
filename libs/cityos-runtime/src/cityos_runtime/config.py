"""Typed configuration read from environment variables; every failure names the variable."""

from __future__ import annotations

import os
from collections.abc import Mapping
from dataclasses import dataclass

_TRUE = frozenset({"true", "1", "yes"})
_FALSE = frozenset({"false", "0", "no"})
_LOG_LEVELS = frozenset({"CRITICAL", "ERROR", "WARNING", "INFO", "DEBUG"})
_LOG_FORMATS = frozenset({"json", "text"})


class ConfigError(Exception):
    """A required variable is missing or a variable's value is malformed."""


def _raw(name: str, environ: Mapping[str, str] | None) -> str | None:
    """The variable's value with surrounding blanks removed; None when unset or blank."""
    value = (os.environ if environ is None else environ).get(name)
    if value is None:
        return None
    value = value.strip()
    return value or None


def _missing(name: str) -> ConfigError:
    return ConfigError(f"environment variable {name} is required but not set")


def env_str(name: str, default: str | None = None, *, environ: Mapping[str, str] | None = None) -> str:
    """Text value of `name`, or `default`; raises ConfigError when unset and no default is given."""
    value = _raw(name, environ)
    if value is not None:
        return value
    if default is None:
        raise _missing(name)
    return default


def env_int(
    name: str,
    default: int | None = None,
    *,
    min_value: int | None = None,
    max_value: int | None = None,
    environ: Mapping[str, str] | None = None,
) -> int:
    """Integer value of `name`, or `default`, optionally bounded (inclusive)."""
    raw = _raw(name, environ)
    if raw is None:
        if default is None:
            raise _missing(name)
        value = default
    else:
        try:
            value = int(raw, 10)
        except ValueError:
            raise ConfigError(f"environment variable {name} must be an integer, got {raw!r}") from None
    _check_bounds(name, value, min_value, max_value)
    return value


def env_float(
    name: str,
    default: float | None = None,
    *,
    min_value: float | None = None,
    max_value: float | None = None,
    environ: Mapping[str, str] | None = None,
) -> float:
    """Finite float value of `name`, or `default`, optionally bounded (inclusive)."""
    raw = _raw(name, environ)
    if raw is None:
        if default is None:
            raise _missing(name)
        value = default
    else:
        try:
            value = float(raw)
        except ValueError:
            raise ConfigError(f"environment variable {name} must be a number, got {raw!r}") from None
        # "nan" and "inf" parse as floats but are never a sensible timeout or size.
        if value != value or value in (float("inf"), float("-inf")):
            raise ConfigError(f"environment variable {name} must be a finite number, got {raw!r}")
    _check_bounds(name, value, min_value, max_value)
    return value


def env_bool(name: str, default: bool | None = None, *, environ: Mapping[str, str] | None = None) -> bool:
    """Boolean value of `name` (true/false/1/0/yes/no, any case), or `default`."""
    raw = _raw(name, environ)
    if raw is None:
        if default is None:
            raise _missing(name)
        return default
    lowered = raw.lower()
    if lowered in _TRUE:
        return True
    if lowered in _FALSE:
        return False
    raise ConfigError(f"environment variable {name} must be one of true/false/1/0/yes/no, got {raw!r}")


def env_list(
    name: str, default: list[str] | None = None, *, environ: Mapping[str, str] | None = None
) -> list[str]:
    """Comma-separated value of `name` as a list (blank items dropped), or `default`."""
    raw = _raw(name, environ)
    if raw is None:
        if default is None:
            raise _missing(name)
        return list(default)
    return [item.strip() for item in raw.split(",") if item.strip()]


def _check_bounds(name: str, value: float, low: float | None, high: float | None) -> None:
    if low is not None and value < low:
        raise ConfigError(f"environment variable {name} must be >= {low}, got {value}")
    if high is not None and value > high:
        raise ConfigError(f"environment variable {name} must be <= {high}, got {value}")


@dataclass(frozen=True, slots=True)
class CommonSettings:
    """Settings every City OS service reads (logs, OTLP endpoint, Prometheus port, default tenant)."""

    service_name: str
    log_level: str = "INFO"
    log_format: str = "json"
    otlp_endpoint: str | None = None
    default_tenant: str = "default"
    metrics_port: int | None = None  # the Prometheus endpoint's port; None: no endpoint

    @classmethod
    def from_env(cls, service_name: str, *, environ: Mapping[str, str] | None = None) -> CommonSettings:
        """Read the common variables; raises ConfigError naming the first bad one."""
        level = env_str("LOG_LEVEL", "INFO", environ=environ).upper()
        if level not in _LOG_LEVELS:
            raise ConfigError(
                f"environment variable LOG_LEVEL must be one of {sorted(_LOG_LEVELS)}, got {level!r}"
            )
        fmt = env_str("LOG_FORMAT", "json", environ=environ).lower()
        if fmt not in _LOG_FORMATS:
            raise ConfigError(f"environment variable LOG_FORMAT must be json or text, got {fmt!r}")
        endpoint = _raw("OTEL_EXPORTER_OTLP_ENDPOINT", environ)
        tenant = env_str("CITYOS_DEFAULT_TENANT", "default", environ=environ)
        metrics_port = (
            env_int("METRICS_PORT", min_value=0, max_value=65535, environ=environ)
            if _raw("METRICS_PORT", environ) is not None
            else None
        )
        return cls(
            service_name=service_name,
            log_level=level,
            log_format=fmt,
            otlp_endpoint=endpoint,
            default_tenant=tenant,
            metrics_port=metrics_port,
        )
