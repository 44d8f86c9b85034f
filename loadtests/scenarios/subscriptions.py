"""Subscription fan-out: pending until NGSI-LD subscriptions exist (issue 4); the user says so and stops."""

from __future__ import annotations

import logging

from locust import constant, task
from locust.exception import StopUser

from loadtests.scenarios.common import CityOsUser

PENDING = (
    "subscription fan-out scenario skipped: NGSI-LD subscriptions and notifications arrive with issue 4; "
    "until then there is nothing to fan out"
)


class SubscriptionFanoutUser(CityOsUser):
    """Would subscribe ≤ 10 receivers to gauge changes and measure notification delay; skipped for now."""

    weight = 1
    wait_time = constant(1)
    _warned = False

    def on_start(self) -> None:
        if not SubscriptionFanoutUser._warned:
            SubscriptionFanoutUser._warned = True
            logging.getLogger("loadtests").warning(PENDING)
        raise StopUser()

    @task
    def never(self) -> None:
        raise StopUser()
