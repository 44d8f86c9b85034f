"""Outgoing call metadata carries the current trace context, tenant and request id."""

from __future__ import annotations

from cityos_runtime import request_context
from cityos_runtime.grpc_client import outgoing_metadata
from cityos_runtime.telemetry import setup_telemetry
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter


def test_empty_context_gives_no_metadata() -> None:
    assert outgoing_metadata() == ()


def test_metadata_carries_span_tenant_and_request_id() -> None:
    telemetry = setup_telemetry("gateway", span_exporter=InMemorySpanExporter())
    try:
        with (
            request_context.request_scope("sapporo", "req-9"),
            telemetry.tracer.start_as_current_span("request") as span,
        ):
            metadata = dict(outgoing_metadata())
    finally:
        telemetry.shutdown()
    ctx = span.get_span_context()
    assert metadata["traceparent"].startswith(f"00-{ctx.trace_id:032x}-{ctx.span_id:016x}-")
    assert metadata["ngsild-tenant"] == "sapporo"
    assert metadata["x-request-id"] == "req-9"
