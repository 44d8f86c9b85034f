"""Settings: defaults, bounds and errors that name the variable."""

from __future__ import annotations

import pytest
from cityos_identity.config import IdentitySettings
from cityos_runtime.config import ConfigError

BASE = {"REDIS_URL": "redis://127.0.0.1:6379/0"}


def test_defaults() -> None:
    settings = IdentitySettings.from_env(environ=BASE)
    assert (settings.grpc_host, settings.grpc_port) == ("0.0.0.0", 50052)
    assert settings.issuer == "http://127.0.0.1:8080" and not settings.secure_cookies
    assert settings.access_token_ttl == 900 and settings.refresh_token_ttl == 30 * 86400
    assert settings.key_rotation_interval == 30 * 86400
    assert (settings.lockout_threshold, settings.lockout_window) == (5, 900)
    assert settings.key_encryption_secret is None and settings.bootstrap_admin_password is None


def test_issuer_is_normalised_and_https_makes_cookies_secure() -> None:
    settings = IdentitySettings.from_env(environ={**BASE, "IDENTITY_ISSUER": "https://city.example.jp/"})
    assert settings.issuer == "https://city.example.jp" and settings.secure_cookies


@pytest.mark.parametrize(
    ("name", "value"),
    [
        ("IDENTITY_ISSUER", "ftp://x"),
        ("IDENTITY_ISSUER", "https://x/?q=1"),
        ("IDENTITY_GRPC_PORT", "70000"),
        ("IDENTITY_ACCESS_TOKEN_TTL", "5"),
        ("IDENTITY_LOCKOUT_THRESHOLD", "0"),
        ("IDENTITY_KEY_ENCRYPTION_SECRET", "short"),
        ("CITYOS_DEFAULT_TENANT", "Not A Tenant!"),
    ],
)
def test_bad_values_name_the_variable(name: str, value: str) -> None:
    with pytest.raises(ConfigError, match=name):
        IdentitySettings.from_env(environ={**BASE, name: value})


def test_redis_url_is_required() -> None:
    with pytest.raises(ConfigError, match="REDIS_URL"):
        IdentitySettings.from_env(environ={})
