"""Telemetry setup builds working providers without warnings or global side effects."""

from __future__ import annotations

from cityos_runtime.telemetry import setup_telemetry
from opentelemetry import trace
from opentelemetry.sdk.metrics.export import InMemoryMetricReader
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter


def test_spans_and_metrics_reach_the_test_exporters() -> None:
    spans = InMemorySpanExporter()
    reader = InMemoryMetricReader()
    telemetry = setup_telemetry("broker", service_version="1.2.3", span_exporter=spans, metric_reader=reader)
    global_provider = trace.get_tracer_provider()
    with telemetry.tracer.start_as_current_span("work"):
        pass
    telemetry.meter.create_counter("things").add(2)
    data = reader.get_metrics_data()
    telemetry.shutdown()

    (span,) = spans.get_finished_spans()
    assert span.name == "work"
    assert span.resource.attributes["service.name"] == "broker"
    assert span.resource.attributes["service.version"] == "1.2.3"
    assert data is not None
    (metric,) = data.resource_metrics[0].scope_metrics[0].metrics
    assert metric.name == "things"
    assert trace.get_tracer_provider() is global_provider


def test_propagator_round_trips_w3c_trace_context() -> None:
    telemetry = setup_telemetry("gateway", span_exporter=InMemorySpanExporter())
    carrier: dict[str, str] = {}
    with telemetry.tracer.start_as_current_span("outer") as span:
        telemetry.propagator.inject(carrier)
    telemetry.shutdown()
    trace_id = format(span.get_span_context().trace_id, "032x")
    assert carrier["traceparent"].startswith(f"00-{trace_id}-")
    extracted = trace.get_current_span(telemetry.propagator.extract(carrier)).get_span_context()
    assert extracted.trace_id == span.get_span_context().trace_id


def test_without_an_exporter_spans_are_not_recorded_but_carry_ids() -> None:
    telemetry = setup_telemetry("gateway")
    with telemetry.tracer.start_as_current_span("request") as span:
        ctx = trace.get_current_span().get_span_context()
    telemetry.shutdown()
    assert not span.is_recording()
    assert ctx.is_valid and ctx.trace_id and ctx.span_id
