"""JSON log lines carry service, trace and request ids, and never a secret."""

from __future__ import annotations

import io
import logging
import time
from collections.abc import Iterator
from typing import Any

import orjson
import pytest
from cityos_runtime import request_context
from cityos_runtime.logs import REDACTED, configure_logging, log_fields, redact_text
from cityos_runtime.telemetry import setup_telemetry
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter


@pytest.fixture
def stream() -> Iterator[io.StringIO]:
    """Route the root logger into a buffer as JSON, and undo it afterwards."""
    buffer = io.StringIO()
    root = logging.getLogger()
    level = root.level
    handler = configure_logging("broker", "DEBUG", "json", stream=buffer)
    yield buffer
    root.removeHandler(handler)
    root.setLevel(level)


def lines(buffer: io.StringIO) -> list[dict[str, Any]]:
    return [orjson.loads(line) for line in buffer.getvalue().splitlines()]


def test_line_has_the_standard_fields(stream: io.StringIO) -> None:
    logging.getLogger("cityos.test").info("stored %d entities", 3)
    (line,) = lines(stream)
    assert line["level"] == "INFO"
    assert line["logger"] == "cityos.test"
    assert line["message"] == "stored 3 entities"
    assert line["service"] == "broker"
    assert line["ts"].endswith("Z") and "T" in line["ts"]
    assert "trace_id" not in line and "tenant" not in line


def test_line_carries_trace_span_request_and_tenant(stream: io.StringIO) -> None:
    telemetry = setup_telemetry("broker", span_exporter=InMemorySpanExporter())
    tenant_token = request_context.set_tenant("sapporo")
    request_token = request_context.set_request_id("req-42")
    try:
        with telemetry.tracer.start_as_current_span("upsert") as span:
            logging.getLogger("cityos.test").warning("slow write")
            context = span.get_span_context()
    finally:
        request_context.reset_request_id(request_token)
        request_context.reset_tenant(tenant_token)
        telemetry.shutdown()
    (line,) = lines(stream)
    assert line["trace_id"] == format(context.trace_id, "032x")
    assert line["span_id"] == format(context.span_id, "016x")
    assert line["request_id"] == "req-42"
    assert line["tenant"] == "sapporo"


def test_exception_text_is_included(stream: io.StringIO) -> None:
    try:
        raise RuntimeError("boom")
    except RuntimeError:
        logging.getLogger("cityos.test").exception("write failed")
    (line,) = lines(stream)
    assert line["level"] == "ERROR"
    assert "RuntimeError: boom" in line["exception"]
    assert "Traceback" in line["exception"]


def test_extra_fields_are_logged_and_secret_keys_redacted(stream: io.StringIO) -> None:
    logging.getLogger("cityos.test").info(
        "connected",
        extra={"endpoint": "s3:9000", "s3_secret_key": "hunter2", "headers": {"Authorization": "x"}},
    )
    (line,) = lines(stream)
    assert line["endpoint"] == "s3:9000"
    assert line["s3_secret_key"] == REDACTED
    assert line["headers"] == {"Authorization": REDACTED}
    assert "hunter2" not in stream.getvalue()


@pytest.mark.parametrize(
    ("message", "secret"),
    [
        ("login password=hunter2 ok", "hunter2"),
        ("S3_SECRET_KEY=abc123def", "abc123def"),
        ("access_key: AKIAXYZ", "AKIAXYZ"),
        ("header Authorization: Bearer eyJhbGciOi.payload.sig", "eyJhbGciOi"),
        ('{"client_secret": "s3cr3t", "id": 1}', "s3cr3t"),
        ("{'api_key': 'k-123'}", "k-123"),
        ("refresh_token=rt.abc&grant_type=refresh", "rt.abc"),
        ("Cookie: session=abcdef", "session=abcdef"),
        ("fetch https://alice:pa55word@example.org/ctx", "pa55word"),
    ],
)
def test_secrets_in_messages_are_redacted(stream: io.StringIO, message: str, secret: str) -> None:
    logging.getLogger("cityos.test").info("%s", message)
    assert secret not in stream.getvalue()
    assert REDACTED in lines(stream)[0]["message"]


def test_secrets_in_exception_text_are_redacted(stream: io.StringIO) -> None:
    try:
        raise ValueError("bad dsn redis://default:topsecret@redis:6379/0")
    except ValueError:
        logging.getLogger("cityos.test").exception("cannot connect")
    assert "topsecret" not in stream.getvalue()
    assert "ValueError" in lines(stream)[0]["exception"]


def test_redaction_keeps_ordinary_text() -> None:
    text = "upserted urn:ngsi-ld:Sensor:1 type=Sensor limit=20"
    assert redact_text(text) == text
    assert redact_text("token=abc, next=1") == f"token={REDACTED}, next=1"


def test_text_format_shows_ids(stream: io.StringIO) -> None:
    buffer = io.StringIO()
    handler = configure_logging("gateway", "INFO", "text", stream=buffer)
    token = request_context.set_request_id("r-1")
    try:
        logging.getLogger("cityos.test").info("hello password=x")
    finally:
        request_context.reset_request_id(token)
        logging.getLogger().removeHandler(handler)
    output = buffer.getvalue()
    assert "hello password=[redacted]" in output
    assert "[request=r-1]" in output
    # configure_logging replaced the JSON handler rather than adding a second one.
    assert stream.getvalue() == ""


def test_unknown_format_is_refused() -> None:
    with pytest.raises(ValueError, match="log format"):
        configure_logging("broker", fmt="yaml")


@pytest.mark.parametrize(
    "text", ["token" * 40_000, "a" * 200_000, "x://" + "a:" * 100_000, "password=" * 20_000]
)
def test_redaction_stays_linear_on_long_hostile_lines(text: str) -> None:
    # A backtracking pattern takes minutes on these; a linear one takes milliseconds. The bound is loose.
    started = time.perf_counter()
    redact_text(text)
    assert time.perf_counter() - started < 2.0


def test_log_fields_writes_the_same_line_as_extra(stream: io.StringIO) -> None:
    logger = logging.getLogger("cityos.test.access")
    log_fields(logger, logging.INFO, "request", {"path": "/a?x=1", "status": 204, "auth": "token=abc"})
    log_fields(logger, logging.NOTSET, "never", {"status": 1})  # below the logger's level: dropped
    (line,) = lines(stream)
    assert (line["logger"], line["message"], line["path"], line["status"]) == (
        "cityos.test.access",
        "request",
        "/a?x=1",
        204,
    )
    assert line["auth"] == f"token={REDACTED}"


@pytest.mark.parametrize(
    "text", ["Password=x", "SECRET: y", "ApiKey=z", "access-key=w", "u://a:b@h", "Authorization: Bearer q"]
)
def test_the_redaction_shortcut_never_skips_what_the_patterns_would_change(text: str) -> None:
    assert redact_text(text) != text
