"""A public map app: residents pan and zoom around Sapporo; the app queries gauges by area and type."""

from __future__ import annotations

import random
from urllib.parse import quote

from locust import between, task

from loadtests.bench.workload import ENTITY_TYPE
from loadtests.scenarios.common import CityOsUser

# Places a resident looks at, (lon, lat).
_CENTRES = ((141.35, 43.06), (141.0, 43.19), (141.6, 42.9), (142.36, 43.77), (143.2, 42.92))


def _geo(georel: str, geometry: str, coordinates: object) -> str:
    coords = quote(str(coordinates).replace(" ", ""), safe="")
    return f"georel={quote(georel, safe='')}&geometry={geometry}&coordinates={coords}"


class MapAppUser(CityOsUser):
    """Area and type queries, as a browser map issues them while a resident pans."""

    weight = 3
    wait_time = between(1, 3)

    @task(3)
    def gauges_near(self) -> None:
        lon, lat = random.choice(_CENTRES)
        distance = random.choice((1000, 2000, 5000))
        query = _geo(f"near;maxDistance=={distance}", "Point", [lon, lat])
        self.send("GET", f"/entities?type={ENTITY_TYPE}&{query}&limit=100", "map: near point")

    @task(2)
    def gauges_within_view(self) -> None:
        lon, lat = random.choice(_CENTRES)
        w, h = random.choice(((0.1, 0.06), (0.3, 0.2), (0.8, 0.5)))
        ring = [
            [lon - w, lat - h],
            [lon + w, lat - h],
            [lon + w, lat + h],
            [lon - w, lat + h],
            [lon - w, lat - h],
        ]
        query = _geo("within", "Polygon", [ring])
        self.send("GET", f"/entities?type={ENTITY_TYPE}&{query}&limit=100", "map: within view")

    @task(1)
    def alert_layer(self) -> None:
        level = random.choice((2.0, 2.5, 3.0))
        q = quote(f"waterLevel>{level}", safe="")
        self.send("GET", f"/entities?type={ENTITY_TYPE}&q={q}&options=keyValues", "map: gauges above level")

    @task(1)
    def plough_layer(self) -> None:
        self.send("GET", "/entities?type=SnowPlough&options=keyValues&limit=300", "map: plough positions")
