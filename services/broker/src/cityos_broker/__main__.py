"""`python -m cityos_broker`: run the broker with settings from the environment."""

from __future__ import annotations

import sys

import uvloop
from cityos_runtime.config import ConfigError

from cityos_broker.config import BrokerSettings
from cityos_broker.server import serve


def main() -> int:
    """Read the settings (failing fast with the variable's name) and serve until signalled."""
    try:
        settings = BrokerSettings.from_env()
    except ConfigError as exc:
        sys.stderr.write(f"cityos-broker: configuration error: {exc}\n")
        return 2
    try:
        uvloop.run(serve(settings))
    except OSError as exc:
        sys.stderr.write(f"cityos-broker: cannot start: {exc}\n")
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
