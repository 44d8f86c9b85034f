"""Connection settings for an S3 store, from the environment or from an embedded server."""

from __future__ import annotations

import os
from collections.abc import Mapping
from dataclasses import dataclass, field

_TRUE = {"1", "true", "yes", "on"}


@dataclass(frozen=True)
class S3Settings:
    """Where an S3-compatible store is and how to sign in (S3_ENDPOINT is host:port, no scheme)."""

    endpoint: str
    access_key: str
    secret_key: str = field(repr=False)
    bucket: str = "cityos"
    secure: bool = False
    region: str | None = None

    @classmethod
    def from_env(cls, environ: Mapping[str, str] | None = None) -> S3Settings | None:
        """Settings from the S3_* variables (S3_ENDPOINT, keys, bucket, secure); None if unset."""
        env = os.environ if environ is None else environ
        endpoint = env.get("S3_ENDPOINT", "").strip()
        if not endpoint:
            return None
        missing = [name for name in ("S3_ACCESS_KEY", "S3_SECRET_KEY") if not env.get(name)]
        if missing:
            raise ValueError(f"S3_ENDPOINT is set but {', '.join(missing)} is not")
        return cls(
            endpoint=endpoint,
            access_key=env["S3_ACCESS_KEY"],
            secret_key=env["S3_SECRET_KEY"],
            bucket=env.get("S3_BUCKET", "cityos") or "cityos",
            secure=env.get("S3_SECURE", "false").strip().lower() in _TRUE,
            region=env.get("S3_REGION") or None,
        )

    def as_env(self) -> dict[str, str]:
        """The S3_* environment variables that describe these settings, for a child service."""
        env = {
            "S3_ENDPOINT": self.endpoint,
            "S3_ACCESS_KEY": self.access_key,
            "S3_SECRET_KEY": self.secret_key,
            "S3_BUCKET": self.bucket,
            "S3_SECURE": "true" if self.secure else "false",
        }
        if self.region:
            env["S3_REGION"] = self.region
        return env
