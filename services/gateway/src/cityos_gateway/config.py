"""The gateway's settings, read once from the environment."""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass

from cityos_runtime.config import CommonSettings, ConfigError, env_float, env_int, env_list, env_str

from cityos_gateway.auth import AUTH_MODES

TENANT_NAME = re.compile(r"[a-z0-9][a-z0-9_-]{0,62}")


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
    auth_mode: str = "open"

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
            auth_mode=env_str("GATEWAY_AUTH_MODE", "open", environ=environ),
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
        if not TENANT_NAME.fullmatch(self.default_tenant):
            raise ConfigError(f"CITYOS_DEFAULT_TENANT {self.default_tenant!r} is not a valid tenant name")
