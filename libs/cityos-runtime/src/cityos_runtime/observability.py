"""A service's logs, traces and metrics, set up in one call from its common settings at start-up."""

from __future__ import annotations

import logging

from cityos_runtime.config import CommonSettings
from cityos_runtime.logs import configure_logging
from cityos_runtime.telemetry import Telemetry, setup_telemetry

_log = logging.getLogger("cityos.runtime")


def start_observability(common: CommonSettings) -> Telemetry:
    """JSON (or text) logs on stderr, the process-wide tracer and meter providers with OTLP export when
    configured, and the Prometheus endpoint when METRICS_PORT is set. Call once per process, in `serve()`."""
    configure_logging(common.service_name, common.log_level, common.log_format)
    telemetry = setup_telemetry(
        common.service_name, common.otlp_endpoint, metrics_port=common.metrics_port, install_global=True
    )
    if telemetry.metrics_endpoint is not None:
        _log.info(
            "metrics endpoint listening",
            extra={"event": "metrics", "port": telemetry.metrics_endpoint.port},
        )
    return telemetry
