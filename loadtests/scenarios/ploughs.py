"""The snow-plough fleet: ~270 vehicles upsert their GPS position every few seconds for the public map."""

from __future__ import annotations

import itertools
import math
import random
from datetime import UTC, datetime

from locust import constant_pacing, task

from loadtests.scenarios.common import PLOUGHS, CityOsUser


class SnowPloughUser(CityOsUser):
    """One plough driving a loop through Sapporo, upserting position, speed and heading every 3 s."""

    fixed_count = PLOUGHS  # the fleet size is a fact of the city, not a share of the simulated users
    wait_time = constant_pacing(3)
    _numbers = itertools.count()

    def on_start(self) -> None:
        self.number = next(self._numbers)
        self.centre = (141.35 + random.uniform(-0.15, 0.15), 43.06 + random.uniform(-0.08, 0.08))
        self.angle = random.uniform(0, 2 * math.pi)

    @task
    def report_position(self) -> None:
        self.angle += 0.02
        lon = self.centre[0] + 0.01 * math.cos(self.angle)
        lat = self.centre[1] + 0.01 * math.sin(self.angle)
        now = datetime.now(UTC).isoformat(timespec="seconds").replace("+00:00", "Z")
        entity = {
            "id": f"urn:ngsi-ld:SnowPlough:plough-{self.number:03d}",
            "type": "SnowPlough",
            "location": {
                "type": "GeoProperty",
                "value": {"type": "Point", "coordinates": [round(lon, 6), round(lat, 6)]},
                "observedAt": now,
            },
            "speed": {"type": "Property", "value": round(random.uniform(5, 30), 1), "unitCode": "KMH"},
            "heading": {"type": "Property", "value": round(math.degrees(self.angle) % 360, 1)},
        }
        self.send("POST", "/entityOperations/upsert?options=update", "plough: upsert position", [entity])
