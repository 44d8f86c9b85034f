"""The Prometheus scrape endpoint (`GET /metrics` on METRICS_PORT), fed by the service's OpenTelemetry meters.

Prometheus pulls, OTLP pushes: a deployment may use either or both. The endpoint runs on its own port (never
the gateway's public one), so only the monitoring peers the NetworkPolicy names can scrape it. It serves from
a small thread of prometheus_client, which keeps the scrape off the service's event loop.
"""

from __future__ import annotations

import threading
from wsgiref.simple_server import WSGIServer

from opentelemetry.exporter.prometheus import PrometheusMetricReader
from prometheus_client import CollectorRegistry, start_http_server


class MetricsEndpoint:
    """A registry of its own, the OpenTelemetry reader that fills it, and the HTTP server that serves it."""

    def __init__(self) -> None:
        # A registry per endpoint, not prometheus_client's global one: tests and embedded use stay isolated.
        self.registry = CollectorRegistry(auto_describe=True)
        self.reader = PrometheusMetricReader(registry=self.registry)
        self._server: WSGIServer | None = None
        self._thread: threading.Thread | None = None

    @property
    def port(self) -> int:
        """The port the endpoint listens on (the real one when it was started on port 0)."""
        if self._server is None:
            raise RuntimeError("the metrics endpoint is not started")
        return int(self._server.server_port)

    def start(self, port: int, host: str = "0.0.0.0") -> int:
        """Listen on `host:port` and serve `/metrics`; returns the bound port."""
        self._server, self._thread = start_http_server(port, addr=host, registry=self.registry)
        return self.port

    def stop(self) -> None:
        """Stop listening (idempotent)."""
        if self._server is not None:
            self._server.shutdown()
            self._server.server_close()
            self._server = None
        if self._thread is not None:
            self._thread.join(timeout=5)
            self._thread = None
