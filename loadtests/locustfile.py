"""Locust scenarios of the City OS (see loadtests/README.md): map app, sensors, plough fleet, fan-out.

Run headless with bounded users and time against a loopback stack, for example
`locust -f loadtests/locustfile.py --host http://127.0.0.1:8080 --headless -u 300 -r 50 -t 30s
--html reports/locust.html --csv reports/locust`; name user classes at the end of the command to run one
scenario alone (e.g. `MapAppUser`). All of them together are the mix.
"""

from __future__ import annotations

import sys
from pathlib import Path

from locust import events
from locust.env import Environment

# locust imports this file by path; the scenarios import `loadtests.*` from the repository root.
_ROOT = str(Path(__file__).resolve().parents[1])
if _ROOT not in sys.path:
    sys.path.insert(0, _ROOT)

from loadtests.scenarios.common import seed  # noqa: E402
from loadtests.scenarios.map_app import MapAppUser  # noqa: E402
from loadtests.scenarios.ploughs import SnowPloughUser  # noqa: E402
from loadtests.scenarios.sensors import GaugeSensorUser  # noqa: E402
from loadtests.scenarios.subscriptions import (  # noqa: E402
    FanoutReceiver,
    FanoutUpdateUser,
    start_fanout,
    stop_fanout,
)

__all__ = ["FanoutUpdateUser", "GaugeSensorUser", "MapAppUser", "SnowPloughUser"]


class _Setup:
    """What test start created and test stop removes (kept on the listener object, not in a global)."""

    def __init__(self) -> None:
        self.fanout: FanoutReceiver | None = None

    def start(self, environment: Environment, **_: object) -> None:
        """Seed the gauges and start the fan-out receiver, once per run (master or local runner)."""
        from locust.runners import WorkerRunner

        if isinstance(environment.runner, WorkerRunner):
            return
        if not environment.host:
            raise SystemExit("pass --host http://127.0.0.1:<gateway port>")
        seed(environment.host)
        if FanoutUpdateUser in environment.user_classes:
            self.fanout = start_fanout(environment, environment.host)

    def stop(self, environment: Environment, **_: object) -> None:
        """Delete the fan-out subscriptions."""
        if self.fanout is not None and environment.host:
            stop_fanout(self.fanout, environment.host)
            self.fanout = None


_setup = _Setup()
events.test_start.add_listener(_setup.start)  # type: ignore[no-untyped-call]
events.test_stop.add_listener(_setup.stop)  # type: ignore[no-untyped-call]
