"""Identity settings: one frozen object read from the environment at start-up; errors name the variable."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from urllib.parse import urlsplit

from cityos_runtime.config import CommonSettings, ConfigError, env_int, env_str
from cityos_runtime.problems import ProblemError
from cityos_runtime.redis_connect import RedisSettings

from cityos_identity.models import validate_tenant

SERVICE_NAME = "identity"
DAY = 86_400


@dataclass(frozen=True, slots=True)
class IdentitySettings:
    """Everything the identity service reads from its environment."""

    common: CommonSettings
    grpc_host: str
    grpc_port: int
    redis: RedisSettings
    issuer: str
    audience: str
    access_token_ttl: int
    refresh_token_ttl: int
    key_rotation_interval: int
    lockout_threshold: int
    lockout_window: int
    session_ttl: int
    key_encryption_secret: str | None
    bootstrap_admin_password: str | None

    @property
    def secure_cookies(self) -> bool:
        """Cookies get the Secure flag whenever the public issuer is served over HTTPS."""
        return self.issuer.startswith("https://")

    @classmethod
    def from_env(cls, *, environ: Mapping[str, str] | None = None) -> IdentitySettings:
        """Read and check every identity variable; raises ConfigError naming the first bad one."""
        common = CommonSettings.from_env(SERVICE_NAME, environ=environ)
        try:
            validate_tenant(common.default_tenant)
        except ProblemError as error:
            raise ConfigError(f"environment variable CITYOS_DEFAULT_TENANT: {error.detail}") from None
        issuer = env_str("IDENTITY_ISSUER", "http://127.0.0.1:8080", environ=environ).rstrip("/")
        parts = urlsplit(issuer)
        if parts.scheme not in {"http", "https"} or not parts.netloc or parts.query or parts.fragment:
            raise ConfigError(
                f"environment variable IDENTITY_ISSUER must be an http(s) URL without query, got {issuer!r}"
            )
        secret = env_str("IDENTITY_KEY_ENCRYPTION_SECRET", "", environ=environ) or None
        if secret is not None and len(secret) < 16:
            raise ConfigError("environment variable IDENTITY_KEY_ENCRYPTION_SECRET must be >= 16 characters")
        return cls(
            common=common,
            grpc_host=env_str("IDENTITY_GRPC_HOST", "0.0.0.0", environ=environ),
            grpc_port=env_int("IDENTITY_GRPC_PORT", 50052, min_value=0, max_value=65535, environ=environ),
            redis=RedisSettings.from_env(environ=environ),
            issuer=issuer,
            audience=env_str("IDENTITY_AUDIENCE", "cityos", environ=environ),
            access_token_ttl=env_int(
                "IDENTITY_ACCESS_TOKEN_TTL", 900, min_value=30, max_value=DAY, environ=environ
            ),
            refresh_token_ttl=env_int(
                "IDENTITY_REFRESH_TOKEN_TTL", 30 * DAY, min_value=60, max_value=365 * DAY, environ=environ
            ),
            key_rotation_interval=env_int(
                "IDENTITY_KEY_ROTATION_INTERVAL", 30 * DAY, min_value=60, environ=environ
            ),
            lockout_threshold=env_int("IDENTITY_LOCKOUT_THRESHOLD", 5, min_value=1, environ=environ),
            lockout_window=env_int("IDENTITY_LOCKOUT_WINDOW", 900, min_value=1, environ=environ),
            session_ttl=env_int("IDENTITY_SESSION_TTL", 8 * 3600, min_value=60, environ=environ),
            key_encryption_secret=secret,
            bootstrap_admin_password=env_str("IDENTITY_BOOTSTRAP_ADMIN_PASSWORD", "", environ=environ)
            or None,
        )
