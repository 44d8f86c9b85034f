"""Subscription fan-out: pending (no receiver inside locust yet), and said so at every run."""

from __future__ import annotations

import logging

from loadtests.scenarios.common import CityOsUser

PENDING = (
    "subscription fan-out scenario skipped: it is not written yet (it needs a notification receiver inside "
    "locust); `make bench` measures notification delay and rate with 10 subscribers meanwhile"
)


class SubscriptionFanoutUser(CityOsUser):
    """Will subscribe ≤ 10 receivers to gauge changes and measure notification delay and rate.

    Abstract while pending, so the mix spends no simulated users on it. NGSI-LD subscriptions exist now
    (issue 4); what is missing is the receiving side in locust.
    """

    abstract = True


def announce_pending() -> None:
    """Say in the run's log that the fan-out scenario did not run, and why."""
    logging.getLogger("loadtests").warning(PENDING)
