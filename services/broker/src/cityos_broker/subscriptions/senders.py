"""Notification channels: HTTP(S) webhooks (`webhooks.WebhookClient`) and MQTT (aiomqtt), behind the SSRF
guard."""

from __future__ import annotations

import asyncio
import ssl
from collections.abc import Sequence
from typing import Any
from urllib.parse import unquote, urlsplit

import aiomqtt
import orjson
from cityos_runtime.ssrf import UnsafeUrlError, check_outbound_url
from opentelemetry import propagate

from cityos_broker.subscriptions.http1 import MalformedResponse
from cityos_broker.subscriptions.model import MQTT_QOS_KEY, SCHEMES
from cityos_broker.subscriptions.notification import Outgoing
from cityos_broker.subscriptions.webhooks import WebhookClient, encode_request


class DeliveryError(Exception):
    """A delivery attempt failed (the message says why); `permanent` ones are not retried."""

    def __init__(self, message: str, *, permanent: bool = False) -> None:
        super().__init__(message)
        self.permanent = permanent


def backoff_delays(attempts: int, base: float, cap: float) -> list[float]:
    """Seconds to wait before each retry: base, 2·base, 4·base, … capped at `cap` (attempts-1 values)."""
    return [min(cap, base * 2**n) for n in range(max(0, attempts - 1))]


def _pairs(items: Sequence[dict[str, str]] | None) -> dict[str, str]:
    return {item["key"]: item["value"] for item in items or ()}


def _set(headers: dict[str, str], name: str, value: str) -> None:
    """Set a header, replacing one of the same name in any letter case (receiverInfo may override)."""
    lowered = name.lower()
    for existing in [key for key in headers if key.lower() == lowered]:
        del headers[existing]
    headers[name] = value


class Senders:
    """Sends one notification to its endpoint; one pooled webhook client per process."""

    def __init__(self, *, timeout: float, allow_private: bool, concurrency: int = 64) -> None:
        self._timeout = timeout
        self._allow_private = allow_private
        # As many connections per endpoint as deliveries may run at once: busy endpoints are not reconnected.
        self._http = WebhookClient(allow_private=allow_private, connections_per_origin=concurrency)

    async def aclose(self) -> None:
        await self._http.aclose()

    async def send(self, tenant: str, endpoint: dict[str, Any], outgoing: Outgoing) -> None:
        """Deliver or raise DeliveryError."""
        uri = str(endpoint["uri"])
        headers = {"Content-Type": outgoing.content_type, "NGSILD-Tenant": tenant}
        if outgoing.link:
            headers["Link"] = (
                f'<{outgoing.link}>; rel="http://www.w3.org/ns/json-ld#context"; type="application/ld+json"'
            )
        for name, value in _pairs(endpoint.get("receiverInfo")).items():
            _set(headers, name, value)
        propagate.inject(headers)  # traceparent of the current notification span
        if uri[:4].lower() == "mqtt":
            try:
                await check_outbound_url(uri, allow_private=self._allow_private, allowed_schemes=SCHEMES)
            except UnsafeUrlError as error:
                raise DeliveryError(f"endpoint refused by the SSRF guard: {error}", permanent=True) from None
            await self._mqtt(uri, endpoint, headers, outgoing)
        else:
            await self._webhook(uri, headers, outgoing)

    async def _webhook(self, uri: str, headers: dict[str, str], outgoing: Outgoing) -> None:
        """POST the body; the guard runs whenever a connection is opened (`webhooks`)."""
        try:
            target = self._http.target(uri)
            request = encode_request(target, list(headers.items()), outgoing.body)
        except UnsafeUrlError as error:
            raise DeliveryError(f"endpoint refused by the SSRF guard: {error}", permanent=True) from None
        except ValueError as error:
            raise DeliveryError(f"the notification cannot be sent: {error}", permanent=True) from None
        try:
            async with asyncio.timeout(self._timeout):
                status = await self._http.post(target, request)
        except UnsafeUrlError as error:
            raise DeliveryError(f"endpoint refused by the SSRF guard: {error}", permanent=True) from None
        except TimeoutError:
            raise DeliveryError(f"no answer within {self._timeout:g} s") from None
        except (OSError, MalformedResponse) as error:
            raise DeliveryError(f"{type(error).__name__}: {error}"[:300]) from None
        if not 200 <= status < 300:
            raise DeliveryError(f"the endpoint answered HTTP {status}")

    async def _mqtt(
        self, uri: str, endpoint: dict[str, Any], headers: dict[str, str], outgoing: Outgoing
    ) -> None:
        """Publish {metadata, body} (the NGSI-LD MQTT binding) to the topic named by the URI path."""
        parts = urlsplit(uri)
        secure = parts.scheme.lower() == "mqtts"
        topic = unquote(parts.path.lstrip("/"))
        info = _pairs(endpoint.get("notifierInfo"))
        qos = int(info.get(MQTT_QOS_KEY, "0"))
        payload = orjson.dumps({"metadata": headers, "body": orjson.loads(outgoing.body)})
        try:
            async with aiomqtt.Client(
                hostname=parts.hostname or "",
                port=parts.port or (8883 if secure else 1883),
                tls_context=ssl.create_default_context() if secure else None,
                timeout=self._timeout,
            ) as client:
                await client.publish(topic, payload, qos=qos, timeout=self._timeout)
        except (aiomqtt.MqttError, OSError, TimeoutError) as error:
            raise DeliveryError(f"MQTT: {type(error).__name__}: {error}"[:300]) from None
