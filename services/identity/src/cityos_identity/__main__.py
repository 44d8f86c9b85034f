"""`python -m cityos_identity`: run the identity service with settings from the environment."""

from __future__ import annotations

import sys

import uvloop
from cityos_runtime.config import ConfigError

from cityos_identity.config import IdentitySettings
from cityos_identity.server import serve
from cityos_identity.signing import KeyDecryptionError


def main() -> int:
    """Read the settings (failing fast with the variable's name) and serve until signalled."""
    try:
        settings = IdentitySettings.from_env()
    except ConfigError as exc:
        sys.stderr.write(f"cityos-identity: configuration error: {exc}\n")
        return 2
    try:
        uvloop.run(serve(settings))
    except (OSError, KeyDecryptionError) as exc:
        sys.stderr.write(f"cityos-identity: cannot start: {exc}\n")
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
