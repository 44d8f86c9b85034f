"""With an OTLP endpoint, spans and metrics reach a (fake) collector over gRPC."""

from __future__ import annotations

import threading
from collections.abc import Iterator
from concurrent import futures
from typing import Any

import grpc
import pytest
from cityos_runtime.telemetry import setup_telemetry
from opentelemetry.proto.collector.metrics.v1 import metrics_service_pb2, metrics_service_pb2_grpc
from opentelemetry.proto.collector.trace.v1 import trace_service_pb2, trace_service_pb2_grpc

pytestmark = pytest.mark.integration


class Collector(trace_service_pb2_grpc.TraceServiceServicer, metrics_service_pb2_grpc.MetricsServiceServicer):
    """Records what exporters send."""

    def __init__(self) -> None:
        self.lock = threading.Lock()
        self.span_names: list[str] = []
        self.service_names: set[str] = set()
        self.metric_names: list[str] = []

    def Export(self, request: Any, context: grpc.ServicerContext) -> Any:
        with self.lock:
            if isinstance(request, trace_service_pb2.ExportTraceServiceRequest):
                for resource_spans in request.resource_spans:
                    for attribute in resource_spans.resource.attributes:
                        if attribute.key == "service.name":
                            self.service_names.add(attribute.value.string_value)
                    for scope in resource_spans.scope_spans:
                        self.span_names.extend(span.name for span in scope.spans)
                return trace_service_pb2.ExportTraceServiceResponse()
            for resource_metrics in request.resource_metrics:
                for scope in resource_metrics.scope_metrics:
                    self.metric_names.extend(metric.name for metric in scope.metrics)
            return metrics_service_pb2.ExportMetricsServiceResponse()


@pytest.fixture
def collector() -> Iterator[tuple[str, Collector]]:
    # A thread-pool server: the SDK exporters are synchronous and block the calling thread.
    server = grpc.server(futures.ThreadPoolExecutor(max_workers=2))
    sink = Collector()
    trace_service_pb2_grpc.add_TraceServiceServicer_to_server(sink, server)
    metrics_service_pb2_grpc.add_MetricsServiceServicer_to_server(sink, server)
    port = server.add_insecure_port("127.0.0.1:0")
    server.start()
    yield f"http://127.0.0.1:{port}", sink
    server.stop(0)


def test_spans_and_metrics_are_exported_over_otlp(collector: tuple[str, Collector]) -> None:
    endpoint, sink = collector
    telemetry = setup_telemetry("broker", endpoint)
    with telemetry.tracer.start_as_current_span("upsert"):
        telemetry.meter.create_counter("cityos.test.writes").add(1)
    telemetry.shutdown()  # flushes both the batch span processor and the periodic metric reader
    assert sink.span_names == ["upsert"]
    assert sink.service_names == {"broker"}
    assert "cityos.test.writes" in sink.metric_names
