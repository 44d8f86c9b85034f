"""Subscription fan-out: pending until NGSI-LD subscriptions exist (issue 4), and said so at every run."""

from __future__ import annotations

import logging

from loadtests.scenarios.common import CityOsUser

PENDING = (
    "subscription fan-out scenario skipped: NGSI-LD subscriptions and notifications arrive with issue 4; "
    "until then there is nothing to fan out"
)


class SubscriptionFanoutUser(CityOsUser):
    """Will subscribe ≤ 10 receivers to gauge changes and measure notification delay and rate.

    Abstract while pending, so the mix spends no simulated users on it; issue 4 makes it concrete.
    """

    abstract = True


def announce_pending() -> None:
    """Say in the run's log that the fan-out scenario did not run, and why."""
    logging.getLogger("loadtests").warning(PENDING)
