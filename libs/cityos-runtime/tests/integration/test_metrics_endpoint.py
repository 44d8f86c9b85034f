"""With METRICS_PORT, a service's OpenTelemetry meters are scraped by Prometheus over HTTP."""

from __future__ import annotations

import urllib.error
import urllib.request

import pytest
from cityos_runtime.config import CommonSettings
from cityos_runtime.telemetry import setup_telemetry

pytestmark = pytest.mark.integration


def _scrape(port: int, path: str = "/metrics") -> tuple[int, str, str]:
    with urllib.request.urlopen(f"http://127.0.0.1:{port}{path}", timeout=5) as response:
        return response.status, response.headers["Content-Type"], response.read().decode()


def test_counters_and_histograms_are_served_in_the_prometheus_text_format() -> None:
    telemetry = setup_telemetry("broker", metrics_port=0, metrics_host="127.0.0.1")
    assert telemetry.metrics_endpoint is not None
    port = telemetry.metrics_endpoint.port
    try:
        telemetry.meter.create_counter("cityos.demo.requests").add(3, {"outcome": "ok"})
        telemetry.meter.create_histogram("cityos.demo.duration", unit="s").record(0.25)
        status, content_type, body = _scrape(port)
    finally:
        telemetry.shutdown()

    assert status == 200
    assert content_type.startswith("text/plain")
    samples = [line for line in body.splitlines() if not line.startswith("#")]
    assert any(
        line.startswith("cityos_demo_requests_total{") and 'outcome="ok"' in line and line.endswith(" 3.0")
        for line in samples
    ), body
    assert any(
        line.startswith("cityos_demo_duration_seconds_count") and line.endswith(" 1.0") for line in samples
    )
    assert 'service_name="broker"' in body  # target_info carries the resource
    with pytest.raises(urllib.error.URLError):
        _scrape(port)  # stopped with the telemetry


def test_two_endpoints_in_one_process_keep_their_own_metrics() -> None:
    first = setup_telemetry("gateway", metrics_port=0, metrics_host="127.0.0.1")
    second = setup_telemetry("identity", metrics_port=0, metrics_host="127.0.0.1")
    assert first.metrics_endpoint is not None and second.metrics_endpoint is not None
    try:
        first.meter.create_counter("cityos.only.first").add(1)
        _, _, second_body = _scrape(second.metrics_endpoint.port)
        _, _, first_body = _scrape(first.metrics_endpoint.port)
    finally:
        first.shutdown()
        second.shutdown()
    assert "cityos_only_first_total" in first_body
    assert "cityos_only_first_total" not in second_body


def test_without_metrics_port_nothing_listens() -> None:
    settings = CommonSettings.from_env("broker", environ={})
    telemetry = setup_telemetry("broker", metrics_port=settings.metrics_port)
    try:
        assert telemetry.metrics_endpoint is None
    finally:
        telemetry.shutdown()
