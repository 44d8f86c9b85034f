"""River water-level gauges report their readings: each user is one gauge PATCHing its attribute."""

from __future__ import annotations

import itertools
import random
from datetime import UTC, datetime
from urllib.parse import quote

from locust import constant_pacing, task

from loadtests.scenarios.common import GAUGES, CityOsUser, gauge_id


class GaugeSensorUser(CityOsUser):
    """A gauge that reports its water level every 5 seconds."""

    weight = 5
    wait_time = constant_pacing(5)
    _numbers = itertools.count()

    def on_start(self) -> None:
        self.index = next(self._numbers) % GAUGES
        self.level = random.uniform(0.3, 2.0)

    @task
    def report_level(self) -> None:
        self.level = max(0.0, self.level + random.gauss(0, 0.05))
        body = {
            "waterLevel": {
                "type": "Property",
                "value": round(self.level, 3),
                "unitCode": "MTR",
                "observedAt": datetime.now(UTC).isoformat(timespec="seconds").replace("+00:00", "Z"),
            }
        }
        path = f"/entities/{quote(gauge_id(self.index), safe=':')}/attrs"
        self.send("PATCH", path, "sensor: PATCH waterLevel", body)
