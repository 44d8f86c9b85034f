"""Outgoing call metadata carries the current trace context, tenant and request id; balanced targets."""

from __future__ import annotations

import re

import pytest
from cityos_runtime import request_context
from cityos_runtime.grpc_calls import call_metadata
from cityos_runtime.grpc_client import balanced_target, outgoing_metadata
from cityos_runtime.telemetry import setup_telemetry
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter
from opentelemetry.trace import SpanContext, TraceFlags


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


@pytest.mark.parametrize(
    ("address", "target"),
    [
        ("broker:50051", "broker:50051"),
        ("dns:///broker-headless:50051", "dns:///broker-headless:50051"),
        ("127.0.0.1:1, 127.0.0.1:2", "ipv4:127.0.0.1:1,127.0.0.1:2"),
        ("[::1]:1,[::1]:2", "ipv6:[::1]:1,[::1]:2"),
    ],
)
def test_balanced_target(address: str, target: str) -> None:
    assert balanced_target(address) == target


@pytest.mark.parametrize(
    ("address", "problem"),
    [
        ("broker-0:1,broker-1:1", "dns:///"),
        ("127.0.0.1,127.0.0.2:1", "needs a port"),
        ("127.0.0.1:1,[::1]:1", "all IPv4 or all IPv6"),
        ("127.0.0.1:1,", "needs a port"),
    ],
)
def test_unusable_address_lists_are_refused(address: str, problem: str) -> None:
    with pytest.raises(ValueError, match=re.escape(problem)):
        balanced_target(address)


def test_call_metadata_adds_what_the_caller_did_not_give() -> None:
    ctx = SpanContext(0xAB, 0xCD, is_remote=False, trace_flags=TraceFlags(1))
    with request_context.request_scope("sapporo", "req-9"):
        given = call_metadata((("ngsild-tenant", "otaru"),), ctx)
    assert dict(given) == {
        "ngsild-tenant": "otaru",
        "traceparent": f"00-{0xAB:032x}-{0xCD:016x}-01",
        "x-request-id": "req-9",
    }
    assert call_metadata(None, None) == ()
