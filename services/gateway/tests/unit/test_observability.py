"""Server spans, the request-duration histogram and the JSON access log line."""

from __future__ import annotations

import io
import json
import logging
from collections.abc import Iterator
from typing import Any

import httpx
import pytest
from cityos_gateway.app import create_app
from cityos_runtime.logs import configure_logging
from cityos_runtime.telemetry import Telemetry, setup_telemetry
from opentelemetry.sdk.metrics.export import InMemoryMetricReader
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter

BASE = "/ngsi-ld/v1"
TRACEPARENT = "00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01"


@pytest.fixture
def telemetry() -> Iterator[tuple[Telemetry, InMemorySpanExporter, InMemoryMetricReader]]:
    spans, reader = InMemorySpanExporter(), InMemoryMetricReader()
    telemetry = setup_telemetry("gateway", span_exporter=spans, metric_reader=reader)
    yield telemetry, spans, reader
    telemetry.shutdown()


@pytest.fixture
def log_stream() -> Iterator[io.StringIO]:
    stream = io.StringIO()
    handler = configure_logging("gateway", "INFO", "json", stream=stream)
    yield stream
    logging.getLogger().removeHandler(handler)


async def _get(app: Any, path: str, headers: dict[str, str]) -> httpx.Response:
    async with httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://gw") as http:
        return await http.get(path, headers=headers)


async def test_server_span_continues_trace_with_http_attributes(
    settings: Any, broker: Any, telemetry: Any
) -> None:
    tel, spans, _ = telemetry
    app = create_app(settings, broker, telemetry=tel)
    await _get(app, f"{BASE}/entities/urn:x:1", {"traceparent": TRACEPARENT})
    (span,) = spans.get_finished_spans()
    assert span.name == "GET /ngsi-ld/v1/entities/{id}"
    assert format(span.context.trace_id, "032x") == "0af7651916cd43dd8448eb211c80319c"
    assert span.attributes is not None
    assert span.attributes["http.route"] == "/ngsi-ld/v1/entities/{id}"
    assert span.attributes["http.response.status_code"] == 200
    assert span.attributes["http.request.method"] == "GET"
    # The broker call runs with the server span current, so the channel's client span is its child.
    assert broker.last.span.span_id == span.context.span_id


async def test_duration_histogram_by_route_and_status(settings: Any, broker: Any, telemetry: Any) -> None:
    tel, _, reader = telemetry
    app = create_app(settings, broker, telemetry=tel)
    await _get(app, f"{BASE}/entities/urn:x:1", {})
    await _get(app, f"{BASE}/entities/urn:x:2", {})
    await _get(app, f"{BASE}/nowhere", {})
    data = reader.get_metrics_data()
    points = [
        point
        for rm in data.resource_metrics
        for sm in rm.scope_metrics
        for metric in sm.metrics
        if metric.name == "http.server.request.duration"
        for point in metric.data.data_points
    ]
    by_attrs = {
        (p.attributes.get("http.route"), p.attributes["http.response.status_code"]): p.count for p in points
    }
    assert by_attrs == {("/ngsi-ld/v1/entities/{id}", 200): 2, (None, 404): 1}


async def test_access_log_line_has_fields_and_no_secrets(
    settings: Any, broker: Any, telemetry: Any, log_stream: io.StringIO
) -> None:
    tel, _, _ = telemetry
    app = create_app(settings, broker, telemetry=tel)
    headers = {"authorization": "Bearer very-secret", "x-request-id": "req-7", "NGSILD-Tenant": "cityb"}
    async with httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://gw") as http:
        await http.post(
            f"{BASE}/entities",
            content=b'{"secretField": 1}',
            headers={**headers, "content-type": "application/json"},
        )
    lines = [json.loads(line) for line in log_stream.getvalue().splitlines()]
    (access,) = [line for line in lines if line["logger"] == "cityos.gateway.access"]
    assert access["method"] == "POST"
    assert access["path"] == f"{BASE}/entities"
    assert access["status"] == 201
    assert access["request_id"] == "req-7"
    assert access["tenant"] == "cityb"
    assert len(access["trace_id"]) == 32
    assert isinstance(access["duration_ms"], float)
    text = log_stream.getvalue()
    assert "very-secret" not in text
    assert "secretField" not in text
