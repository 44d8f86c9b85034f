"""Subscription fan-out: updates that <= 10 subscribers are notified of, with the delivery delay reported.

At test start a small HTTP receiver starts on a loopback port inside the locust process, and
LOADTEST_SUBSCRIBERS (10) subscriptions point at it. `FanoutUpdateUser`s PATCH `sentAt` (wall-clock
seconds) on probe entities; every notification the receiver gets is reported to locust as a `NOTIFY`
request whose response time is the delay from the update being sent to the notification arriving. Run it
on a local runner (no --processes): the receiver lives in the process that started the test.
"""

from __future__ import annotations

import json
import os
import time
from collections.abc import Callable, Iterable
from typing import Any

from gevent.pywsgi import WSGIServer
from locust import constant_pacing, task
from locust.env import Environment

from loadtests.scenarios.common import CityOsUser, request_json

PROBE_TYPE = "FanoutProbe"
PROBES = 20
SUBSCRIBERS = int(os.environ.get("LOADTEST_SUBSCRIBERS", "10"))
_NAME = "fan-out: notification delay"
StartResponse = Callable[[str, list[tuple[str, str]]], Any]


def probe_id(index: int) -> str:
    """The id of one fan-out probe entity."""
    return f"urn:ngsi-ld:{PROBE_TYPE}:{index % PROBES:03d}"


class FanoutUpdateUser(CityOsUser):
    """A source whose every update fans out to all subscribers: one PATCH per second."""

    weight = 1
    wait_time = constant_pacing(1)

    @task
    def update(self) -> None:
        body = {"sentAt": {"type": "Property", "value": time.time()}}
        index = int(time.time() * 1000) % PROBES
        self.send("PATCH", f"/entities/{probe_id(index)}/attrs", "fan-out: PATCH sentAt", body)


class FanoutReceiver:
    """The subscribers' endpoint: reports each notified entity's delay to locust's statistics."""

    def __init__(self, environment: Environment) -> None:
        self._environment = environment
        self._server = WSGIServer(("127.0.0.1", 0), self._app, log=None, error_log=None)
        self.subscriptions: list[str] = []

    @property
    def port(self) -> int:
        return int(self._server.server_port)

    def start(self) -> None:
        self._server.start()

    def stop(self) -> None:
        self._server.stop(timeout=2)

    def _app(self, environ: dict[str, Any], start_response: StartResponse) -> Iterable[bytes]:
        arrived = time.time()
        length = int(environ.get("CONTENT_LENGTH") or 0)
        body = environ["wsgi.input"].read(length) if length else b""
        for sent in _sent_times(body):
            self._environment.events.request.fire(  # type: ignore[no-untyped-call]
                request_type="NOTIFY",
                name=_NAME,
                response_time=max(0.0, (arrived - sent) * 1000),
                response_length=len(body),
                exception=None,
                context={},
            )
        start_response("204 No Content", [])
        return [b""]


def _sent_times(body: bytes) -> list[float]:
    try:
        items = json.loads(body).get("data", [])
    except (ValueError, AttributeError):
        return []
    times = []
    for item in items:
        sent = item.get("sentAt") if isinstance(item, dict) else None
        if isinstance(sent, dict):
            sent = sent.get("value")
        if isinstance(sent, int | float):
            times.append(float(sent))
    return times


def start_fanout(environment: Environment, host: str) -> FanoutReceiver:
    """Start the receiver, create the probes and the subscriptions pointing at it."""
    receiver = FanoutReceiver(environment)
    receiver.start()
    probes = [
        {"id": probe_id(i), "type": PROBE_TYPE, "sentAt": {"type": "Property", "value": 0}}
        for i in range(PROBES)
    ]
    request_json(host, "POST", "/entityOperations/upsert", probes)
    for n in range(SUBSCRIBERS):
        subscription = {
            "type": "Subscription",
            "entities": [{"type": PROBE_TYPE}],
            "watchedAttributes": ["sentAt"],
            "notification": {
                "attributes": ["sentAt"],
                "format": "keyValues",
                "endpoint": {
                    "uri": f"http://127.0.0.1:{receiver.port}/subscriber/{n}",
                    "accept": "application/json",
                },
            },
        }
        location = request_json(host, "POST", "/subscriptions", subscription)
        receiver.subscriptions.append(location.rsplit("/", 1)[-1])
    return receiver


def stop_fanout(receiver: FanoutReceiver, host: str) -> None:
    """Delete the subscriptions, then stop the receiver."""
    for subscription_id in receiver.subscriptions:
        request_json(host, "DELETE", f"/subscriptions/{subscription_id}")
    receiver.stop()
