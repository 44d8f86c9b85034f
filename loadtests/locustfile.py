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
from loadtests.scenarios.subscriptions import SubscriptionFanoutUser, announce_pending  # noqa: E402

__all__ = ["GaugeSensorUser", "MapAppUser", "SnowPloughUser", "SubscriptionFanoutUser"]


def _seed_data(environment: Environment, **_: object) -> None:
    """Seed the gauges once per run (on the master or the single local runner), loopback hosts only."""
    from locust.runners import WorkerRunner

    if isinstance(environment.runner, WorkerRunner):
        return
    if not environment.host:
        raise SystemExit("pass --host http://127.0.0.1:<gateway port>")
    seed(environment.host)
    announce_pending()


events.test_start.add_listener(_seed_data)  # type: ignore[no-untyped-call]
