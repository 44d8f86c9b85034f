"""Broker settings: one frozen object read from the environment at start-up; errors name the variable."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field

from cityos_runtime.config import CommonSettings, ConfigError, env_bool, env_float, env_int, env_str
from cityos_runtime.problems import ProblemError
from cityos_runtime.redis_connect import RedisSettings

from cityos_broker.store.keys import validate_tenant
from cityos_broker.subscriptions.settings import NotifierSettings
from cityos_broker.temporal.settings import TemporalSettings

SERVICE_NAME = "broker"


@dataclass(frozen=True, slots=True)
class BrokerSettings:
    """Everything the broker reads from its environment."""

    common: CommonSettings
    grpc_host: str
    grpc_port: int
    redis: RedisSettings
    auto_create_tenants: bool
    allow_private_urls: bool
    context_fetch_timeout: float
    context_max_bytes: int
    default_limit: int
    max_limit: int
    changes_maxlen: int
    temporal: TemporalSettings = field(default_factory=TemporalSettings)
    notifier: NotifierSettings = field(default_factory=NotifierSettings)

    @property
    def default_tenant(self) -> str:
        return self.common.default_tenant

    @classmethod
    def from_env(cls, *, environ: Mapping[str, str] | None = None) -> BrokerSettings:
        """Read and check every broker variable; raises ConfigError naming the first bad one."""
        common = CommonSettings.from_env(SERVICE_NAME, environ=environ)
        try:
            validate_tenant(common.default_tenant)
        except ProblemError as error:
            raise ConfigError(f"environment variable CITYOS_DEFAULT_TENANT: {error.detail}") from None
        max_limit = env_int("BROKER_MAX_LIMIT", 1000, min_value=1, environ=environ)
        default_limit = env_int("BROKER_DEFAULT_LIMIT", 20, min_value=1, environ=environ)
        if default_limit > max_limit:
            raise ConfigError(
                f"environment variable BROKER_DEFAULT_LIMIT ({default_limit}) must not exceed "
                f"BROKER_MAX_LIMIT ({max_limit})"
            )
        return cls(
            common=common,
            grpc_host=env_str("BROKER_GRPC_HOST", "0.0.0.0", environ=environ),
            grpc_port=env_int("BROKER_GRPC_PORT", 50051, min_value=0, max_value=65535, environ=environ),
            redis=RedisSettings.from_env(environ=environ),
            auto_create_tenants=env_bool("BROKER_AUTO_CREATE_TENANTS", True, environ=environ),
            allow_private_urls=env_bool("BROKER_ALLOW_PRIVATE_URLS", False, environ=environ),
            context_fetch_timeout=env_float(
                "BROKER_CONTEXT_FETCH_TIMEOUT", 3.0, min_value=0.1, environ=environ
            ),
            context_max_bytes=env_int("BROKER_CONTEXT_MAX_BYTES", 1_048_576, min_value=1024, environ=environ),
            default_limit=default_limit,
            max_limit=max_limit,
            # Cap only for change streams without a consumer group; others trim behind their slowest group.
            changes_maxlen=env_int("BROKER_CHANGES_MAXLEN", 100_000, min_value=1000, environ=environ),
            temporal=TemporalSettings.from_env(environ=environ),
            notifier=NotifierSettings.from_env(environ=environ),
        )
