"""The gateway's settings, read once from the environment."""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass

from cityos_runtime.config import CommonSettings, ConfigError, env_float, env_int, env_list, env_str
from cityos_runtime.grpc_client import balanced_target
from cityos_runtime.redis_connect import RedisSettings

from cityos_gateway.auth import AUTH_MODES

TENANT_NAME = re.compile(r"[a-z0-9][a-z0-9_-]{0,62}")
_RATE = re.compile(r"(\d+)\s*/\s*(s|sec|second|m|min|minute)")
_WINDOWS = {"s": 1, "sec": 1, "second": 1, "m": 60, "min": 60, "minute": 60}


@dataclass(frozen=True, slots=True)
class RateLimit:
    """At most `requests` per client in each fixed window of `window` seconds."""

    requests: int
    window: int


def parse_rate_limit(text: str) -> RateLimit | None:
    """GATEWAY_RATE_LIMIT: "100/s" or "3000/min"; empty or "0/s" turns the limit off."""
    text = text.strip().lower()
    if not text:
        return None
    match = _RATE.fullmatch(text)
    if match is None:
        raise ConfigError(f"GATEWAY_RATE_LIMIT must look like 100/s or 3000/min, got {text!r}")
    requests = int(match.group(1))
    return RateLimit(requests, _WINDOWS[match.group(2)]) if requests > 0 else None


@dataclass(frozen=True, slots=True)
class GatewaySettings:
    """Everything the gateway is configured with (names as in the common configuration table)."""

    common: CommonSettings
    host: str = "0.0.0.0"
    port: int = 8080
    broker_address: str = "127.0.0.1:50051"
    max_body_bytes: int = 8 * 1024 * 1024
    request_timeout: float = 30.0
    cors_origins: tuple[str, ...] = ()
    auth_mode: str = "oidc"
    identity_address: str = "127.0.0.1:50052"
    identity_issuer: str = "http://127.0.0.1:8080"
    identity_audience: str = "cityos"
    redis: RedisSettings | None = None  # REDIS_URL unset: rate limits stay per replica
    rate_limit: RateLimit | None = None
    revocation_poll: float = 5.0
    policy_ttl: float = 5.0

    @property
    def default_tenant(self) -> str:
        """The tenant of requests without an NGSILD-Tenant header."""
        return self.common.default_tenant

    @classmethod
    def from_env(cls, environ: Mapping[str, str] | None = None) -> GatewaySettings:
        """Read and validate the settings; ConfigError names the offending variable."""
        settings = cls(
            common=CommonSettings.from_env("gateway", environ=environ),
            host=env_str("GATEWAY_HOST", "0.0.0.0", environ=environ),
            port=env_int("GATEWAY_PORT", 8080, min_value=0, max_value=65535, environ=environ),
            broker_address=env_str("BROKER_ADDRESS", "127.0.0.1:50051", environ=environ),
            max_body_bytes=env_int("GATEWAY_MAX_BODY_BYTES", 8 * 1024 * 1024, min_value=1, environ=environ),
            request_timeout=env_float("GATEWAY_REQUEST_TIMEOUT", 30.0, environ=environ),
            cors_origins=tuple(env_list("GATEWAY_CORS_ORIGINS", [], environ=environ)),
            auth_mode=env_str("GATEWAY_AUTH_MODE", "oidc", environ=environ),
            identity_address=env_str("IDENTITY_ADDRESS", "127.0.0.1:50052", environ=environ),
            identity_issuer=env_str("IDENTITY_ISSUER", "http://127.0.0.1:8080", environ=environ).rstrip("/"),
            identity_audience=env_str("IDENTITY_AUDIENCE", "cityos", environ=environ),
            redis=RedisSettings.from_env_optional(environ=environ),
            rate_limit=parse_rate_limit(env_str("GATEWAY_RATE_LIMIT", "", environ=environ)),
            revocation_poll=env_float("GATEWAY_REVOCATION_POLL", 5.0, environ=environ),
            policy_ttl=env_float("GATEWAY_POLICY_TTL", 5.0, environ=environ),
        )
        settings.validate()
        return settings

    def validate(self) -> None:
        """Fail fast on values no request could work with."""
        if not 0 <= self.port <= 65535:
            raise ConfigError(f"GATEWAY_PORT must be 0-65535, got {self.port}")
        if self.max_body_bytes <= 0:
            raise ConfigError(f"GATEWAY_MAX_BODY_BYTES must be positive, got {self.max_body_bytes}")
        if self.request_timeout <= 0:
            raise ConfigError(f"GATEWAY_REQUEST_TIMEOUT must be positive, got {self.request_timeout}")
        if self.auth_mode not in AUTH_MODES:
            raise ConfigError(
                f"GATEWAY_AUTH_MODE={self.auth_mode!r} is not supported; known modes: {', '.join(AUTH_MODES)}"
            )
        if self.revocation_poll <= 0 or self.policy_ttl <= 0:
            raise ConfigError("GATEWAY_REVOCATION_POLL and GATEWAY_POLICY_TTL must be positive")
        try:
            balanced_target(self.broker_address)
        except ValueError as error:
            raise ConfigError(f"BROKER_ADDRESS {self.broker_address!r}: {error}") from None
        if not TENANT_NAME.fullmatch(self.default_tenant):
            raise ConfigError(f"CITYOS_DEFAULT_TENANT {self.default_tenant!r} is not a valid tenant name")
