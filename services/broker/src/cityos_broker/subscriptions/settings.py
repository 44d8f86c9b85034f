"""Notifier settings (part of `BrokerSettings`), read from the environment; errors name the variable."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass

from cityos_runtime.config import env_bool, env_float, env_int, env_str


@dataclass(frozen=True, slots=True)
class NotifierSettings:
    """How the notification workers run."""

    enabled: bool = True
    timeout: float = 5.0  # seconds per delivery attempt
    max_attempts: int = 5  # then the notification is dead-lettered
    backoff: float = 0.5  # first retry delay, doubled per attempt
    backoff_max: float = 30.0
    claim_idle: float = 30.0  # seconds before another worker takes over an unacknowledged entry
    concurrency: int = 64  # deliveries in flight per worker
    tenant_refresh: float = 5.0  # seconds between reads of the tenant set
    sent_ttl: float = 86_400.0  # seconds a delivered notification id is remembered (de-duplication)
    identity_address: str = ""  # the identity service (owners' read policies); "" = none: tenant's data
    policy_ttl: float = 5.0  # seconds a tenant's policies are cached (one GetAccessPolicies per TTL)

    @classmethod
    def from_env(cls, *, environ: Mapping[str, str] | None = None) -> NotifierSettings:
        """Read every BROKER_NOTIFY_* variable, IDENTITY_ADDRESS and BROKER_POLICY_TTL."""
        return cls(
            enabled=env_bool("BROKER_NOTIFIER", True, environ=environ),
            timeout=env_float("BROKER_NOTIFY_TIMEOUT", 5.0, min_value=0.1, environ=environ),
            max_attempts=env_int(
                "BROKER_NOTIFY_MAX_ATTEMPTS", 5, min_value=1, max_value=100, environ=environ
            ),
            backoff=env_float("BROKER_NOTIFY_BACKOFF", 0.5, min_value=0.0, environ=environ),
            backoff_max=env_float("BROKER_NOTIFY_BACKOFF_MAX", 30.0, min_value=0.0, environ=environ),
            claim_idle=env_float("BROKER_NOTIFY_CLAIM_IDLE", 30.0, min_value=0.1, environ=environ),
            concurrency=env_int("BROKER_NOTIFY_CONCURRENCY", 64, min_value=1, environ=environ),
            tenant_refresh=env_float("BROKER_NOTIFY_TENANT_REFRESH", 5.0, min_value=0.1, environ=environ),
            sent_ttl=env_float("BROKER_NOTIFY_DEDUP_TTL", 86_400.0, min_value=1.0, environ=environ),
            identity_address=env_str("IDENTITY_ADDRESS", "", environ=environ).strip(),
            policy_ttl=env_float("BROKER_POLICY_TTL", 5.0, min_value=0.1, environ=environ),
        )
