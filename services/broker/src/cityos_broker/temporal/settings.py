"""Temporal settings: history recording, retention in Redis, the S3 archive (S3_* variables)."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass

from cityos_runtime.config import ConfigError, env_bool, env_float, env_int, env_str
from cityos_runtime.problems import ProblemError
from minio import Minio

from cityos_broker.temporal.timeutil import parse_duration

_DAY_MS = 86_400_000.0


@dataclass(frozen=True, slots=True)
class S3Settings:
    """An S3-compatible store (S3_ENDPOINT is host:port, no scheme)."""

    endpoint: str
    access_key: str
    secret_key: str
    bucket: str
    secure: bool
    region: str | None

    def client(self) -> Minio:
        return Minio(
            self.endpoint,
            access_key=self.access_key,
            secret_key=self.secret_key,
            secure=self.secure,
            region=self.region,
        )


@dataclass(frozen=True, slots=True)
class TemporalSettings:
    """How history is recorded, kept and archived."""

    record_history: bool = True
    retention_ms: float = 7 * _DAY_MS
    archive_interval: float = 3600.0
    max_instances: int = 10_000
    claim_idle_ms: int = 30_000
    s3: S3Settings | None = None

    @classmethod
    def from_env(cls, *, environ: Mapping[str, str] | None = None) -> TemporalSettings:
        """Read BROKER_HISTORY_* / BROKER_TEMPORAL_* and S3_*; ConfigError names the first bad variable."""
        raw_retention = env_str("BROKER_HISTORY_RETENTION", "P7D", environ=environ)
        try:
            retention = parse_duration(raw_retention, "BROKER_HISTORY_RETENTION").approx_millis()
        except ProblemError as error:
            raise ConfigError(f"environment variable BROKER_HISTORY_RETENTION: {error.detail}") from None
        if retention < _DAY_MS:
            raise ConfigError("environment variable BROKER_HISTORY_RETENTION must be at least one day (P1D)")
        return cls(
            record_history=env_bool("BROKER_HISTORY_ENABLED", True, environ=environ),
            retention_ms=retention,
            archive_interval=env_float(
                "BROKER_HISTORY_ARCHIVE_INTERVAL", 3600.0, min_value=1.0, environ=environ
            ),
            max_instances=env_int("BROKER_TEMPORAL_MAX_INSTANCES", 10_000, min_value=1, environ=environ),
            claim_idle_ms=env_int("BROKER_HISTORY_CLAIM_IDLE_MS", 30_000, min_value=100, environ=environ),
            s3=_s3(environ),
        )


def _s3(environ: Mapping[str, str] | None) -> S3Settings | None:
    endpoint = env_str("S3_ENDPOINT", "", environ=environ).strip()
    if not endpoint:
        return None
    return S3Settings(
        endpoint=endpoint,
        access_key=env_str("S3_ACCESS_KEY", environ=environ),
        secret_key=env_str("S3_SECRET_KEY", environ=environ),
        bucket=env_str("S3_BUCKET", "cityos", environ=environ) or "cityos",
        secure=env_bool("S3_SECURE", False, environ=environ),
        region=env_str("S3_REGION", "", environ=environ) or None,
    )
