"""OpenTelemetry tracing and metrics for one service: providers, optional OTLP export, W3C propagation."""

from __future__ import annotations

import os
from dataclasses import dataclass, field

from opentelemetry import metrics, trace
from opentelemetry.sdk.metrics import MeterProvider
from opentelemetry.sdk.metrics.export import MetricReader, PeriodicExportingMetricReader
from opentelemetry.sdk.resources import SERVICE_NAME, SERVICE_VERSION, Resource
from opentelemetry.sdk.trace import TracerProvider
from opentelemetry.sdk.trace.export import BatchSpanProcessor, SimpleSpanProcessor, SpanExporter
from opentelemetry.sdk.trace.sampling import ALWAYS_OFF
from opentelemetry.trace.propagation.tracecontext import TraceContextTextMapPropagator

from cityos_runtime.metrics_endpoint import MetricsEndpoint

INSTRUMENTATION_NAME = "cityos_runtime"


@dataclass(frozen=True, slots=True)
class Telemetry:
    """A service's tracer and meter, the providers behind them, and the W3C trace-context propagator."""

    service_name: str
    tracer_provider: TracerProvider
    meter_provider: MeterProvider
    tracer: trace.Tracer
    meter: metrics.Meter
    propagator: TraceContextTextMapPropagator = field(default_factory=TraceContextTextMapPropagator)
    metrics_endpoint: MetricsEndpoint | None = None  # the Prometheus endpoint, when METRICS_PORT is set

    def shutdown(self) -> None:
        """Flush and stop the exporters (call once, at the end of the process)."""
        if self.metrics_endpoint is not None:
            self.metrics_endpoint.stop()
        self.tracer_provider.shutdown()
        self.meter_provider.shutdown()


def setup_telemetry(
    service_name: str,
    otlp_endpoint: str | None = None,
    *,
    service_version: str | None = None,
    span_exporter: SpanExporter | None = None,
    metric_reader: MetricReader | None = None,
    metrics_port: int | None = None,
    metrics_host: str = "0.0.0.0",
    install_global: bool = False,
) -> Telemetry:
    """Build the tracer and meter for `service_name`.

    With `otlp_endpoint` (e.g. "http://otel-collector:4317") spans and metrics are exported over OTLP gRPC
    in batches; without it nothing leaves the process and spans are not recorded (their ids still reach logs
    and the next hop, with the sampled flag off). Tests pass an in-memory `span_exporter` (exported
    synchronously) and `metric_reader`. With `metrics_port` (0: any free port) the meters are also served
    for Prometheus at `http://metrics_host:port/metrics`. `install_global` also makes these the process-wide
    providers, for third-party instrumentation; do it once per process (in `serve()`), never in tests.
    """
    attributes: dict[str, str] = {SERVICE_NAME: service_name}
    if service_version:
        attributes[SERVICE_VERSION] = service_version
    resource = Resource.create(attributes)

    # Spans with nowhere to go are not recorded: the tracer then hands out non-recording spans that still
    # carry fresh trace and span ids (for logs and traceparent) but cost no attributes, events or processing,
    # which was 7-10 % of the gateway's CPU per request. OTEL_TRACES_SAMPLER, when set, decides instead.
    exporting = bool(otlp_endpoint) or span_exporter is not None
    sampler = None if exporting or os.environ.get("OTEL_TRACES_SAMPLER") else ALWAYS_OFF
    tracer_provider = TracerProvider(resource=resource, sampler=sampler)
    readers: list[MetricReader] = []
    if otlp_endpoint:
        # Imported only when exporting: the OTLP exporters pull in grpc stubs and protobuf modules.
        from opentelemetry.exporter.otlp.proto.grpc.metric_exporter import OTLPMetricExporter
        from opentelemetry.exporter.otlp.proto.grpc.trace_exporter import OTLPSpanExporter

        # OTLP rules for TLS: plaintext for http://, TLS for https://, else OTEL_EXPORTER_OTLP_INSECURE.
        tracer_provider.add_span_processor(BatchSpanProcessor(OTLPSpanExporter(endpoint=otlp_endpoint)))
        readers.append(PeriodicExportingMetricReader(OTLPMetricExporter(endpoint=otlp_endpoint)))
    if span_exporter is not None:
        tracer_provider.add_span_processor(SimpleSpanProcessor(span_exporter))
    if metric_reader is not None:
        readers.append(metric_reader)
    endpoint: MetricsEndpoint | None = None
    if metrics_port is not None:
        endpoint = MetricsEndpoint()
        readers.append(endpoint.reader)
        endpoint.start(metrics_port, metrics_host)
    meter_provider = MeterProvider(resource=resource, metric_readers=readers)

    if install_global:
        trace.set_tracer_provider(tracer_provider)
        metrics.set_meter_provider(meter_provider)
    return Telemetry(
        service_name=service_name,
        tracer_provider=tracer_provider,
        meter_provider=meter_provider,
        tracer=tracer_provider.get_tracer(INSTRUMENTATION_NAME),
        meter=meter_provider.get_meter(INSTRUMENTATION_NAME),
        metrics_endpoint=endpoint,
    )
