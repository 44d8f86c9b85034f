"""`python -m cityos_gateway`: run the gateway with settings from the environment."""

from __future__ import annotations

import sys

import uvloop
from cityos_runtime.config import ConfigError

from cityos_gateway.config import GatewaySettings
from cityos_gateway.server import serve


def main() -> int:
    """Read the settings (failing fast with the variable's name) and serve until signalled."""
    try:
        settings = GatewaySettings.from_env()
    except ConfigError as exc:
        sys.stderr.write(f"cityos-gateway: configuration error: {exc}\n")
        return 2
    uvloop.run(serve(settings))
    return 0


if __name__ == "__main__":
    sys.exit(main())
