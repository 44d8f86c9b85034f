"""Notification channels: HTTP(S) webhooks (httpx) and MQTT (aiomqtt), each behind the SSRF guard."""

from __future__ import annotations

import ssl
from collections.abc import Sequence
from typing import Any
from urllib.parse import unquote, urlsplit

import aiomqtt
import httpx
import orjson
from cityos_runtime.ssrf import UnsafeUrlError, check_outbound_url
from opentelemetry import propagate

from cityos_broker.subscriptions.model import MQTT_QOS_KEY, SCHEMES
from cityos_broker.subscriptions.notification import Outgoing


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


class Senders:
    """Sends one notification to its endpoint; one shared HTTP client per process."""

    def __init__(self, *, timeout: float, allow_private: bool, concurrency: int = 64) -> None:
        self._timeout = timeout
        self._allow_private = allow_private
        # Keep as many connections alive as deliveries may run at once, so busy endpoints are not reconnected.
        # Redirects are not followed: a redirect could lead past the SSRF guard.
        self._http = httpx.AsyncClient(
            timeout=timeout,
            follow_redirects=False,
            limits=httpx.Limits(max_connections=concurrency, max_keepalive_connections=concurrency),
        )

    async def aclose(self) -> None:
        await self._http.aclose()

    async def send(self, tenant: str, endpoint: dict[str, Any], outgoing: Outgoing) -> None:
        """Deliver or raise DeliveryError."""
        uri = str(endpoint["uri"])
        try:
            await check_outbound_url(uri, allow_private=self._allow_private, allowed_schemes=SCHEMES)
        except UnsafeUrlError as error:
            raise DeliveryError(f"endpoint refused by the SSRF guard: {error}", permanent=True) from None
        headers = {"Content-Type": outgoing.content_type, "NGSILD-Tenant": tenant}
        if outgoing.link:
            headers["Link"] = (
                f'<{outgoing.link}>; rel="http://www.w3.org/ns/json-ld#context"; type="application/ld+json"'
            )
        headers.update(_pairs(endpoint.get("receiverInfo")))
        propagate.inject(headers)  # traceparent of the current notification span
        if uri.lower().startswith(("mqtt://", "mqtts://")):
            await self._mqtt(uri, endpoint, headers, outgoing)
        else:
            await self._webhook(uri, headers, outgoing)

    async def _webhook(self, uri: str, headers: dict[str, str], outgoing: Outgoing) -> None:
        try:
            response = await self._http.post(uri, content=outgoing.body, headers=headers)
        except httpx.HTTPError as error:
            raise DeliveryError(f"{type(error).__name__}: {error}"[:300]) from None
        if not 200 <= response.status_code < 300:
            raise DeliveryError(f"the endpoint answered HTTP {response.status_code}")

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
