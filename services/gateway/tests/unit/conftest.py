"""Unit-test fixtures: the gateway app over a recording fake Broker stub (no sockets)."""

from __future__ import annotations

from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from typing import Any

import grpc
import httpx
import pytest
from cityos.broker.v1 import broker_pb2 as pb
from cityos_gateway.app import create_app
from cityos_gateway.config import GatewaySettings
from cityos_runtime.config import CommonSettings
from cityos_runtime.problems import ProblemError
from opentelemetry import trace
from opentelemetry.trace import SpanContext

_METHODS = pb.DESCRIPTOR.services_by_name["Broker"].methods_by_name


@dataclass
class RecordedCall:
    """One RPC the gateway made: its name, request message, metadata and deadline."""

    rpc: str
    request: Any
    metadata: dict[str, str]
    timeout: float | None
    span: SpanContext


@dataclass
class FakeBroker:
    """Stands in for BrokerAsyncStub: records every call and answers from `replies` (or raises)."""

    calls: list[RecordedCall] = field(default_factory=list)
    replies: dict[str, Any] = field(default_factory=dict)

    def __getattr__(self, name: str) -> Any:
        if name not in _METHODS:
            raise AttributeError(name)

        async def call(request: Any, *, metadata: Any = (), timeout: float | None = None) -> Any:
            span = trace.get_current_span().get_span_context()
            self.calls.append(RecordedCall(name, request, dict(metadata), timeout, span))
            reply = self.replies.get(name)
            if isinstance(reply, BaseException):
                raise reply
            if reply is None:
                return getattr(pb, _METHODS[name].output_type.name)()
            return reply

        return call

    @property
    def last(self) -> RecordedCall:
        assert self.calls, "the gateway made no Broker call"
        return self.calls[-1]


def rpc_error(
    code: grpc.StatusCode, details: str = "", problem: ProblemError | None = None
) -> grpc.aio.AioRpcError:
    """An AioRpcError as grpc.aio raises it, optionally carrying ProblemDetails in trailing metadata."""
    trailing = (
        grpc.aio.Metadata(("cityos-problem-bin", problem.to_json())) if problem else grpc.aio.Metadata()
    )
    return grpc.aio.AioRpcError(code, grpc.aio.Metadata(), trailing, details)


def make_settings(**overrides: Any) -> GatewaySettings:
    """Settings for tests: small body limit, short timeout, CORS for one origin."""
    values: dict[str, Any] = {
        "common": CommonSettings("gateway", default_tenant="citya"),
        "max_body_bytes": 1024,
        "request_timeout": 5.0,
        "cors_origins": ("https://app.example",),
    }
    values.update(overrides)
    return GatewaySettings(**values)


@pytest.fixture
def broker() -> FakeBroker:
    return FakeBroker()


@pytest.fixture
def settings() -> GatewaySettings:
    return make_settings()


@pytest.fixture
def app(settings: GatewaySettings, broker: FakeBroker) -> Any:
    return create_app(settings, broker)  # type: ignore[arg-type]


@pytest.fixture
async def client(app: Any) -> AsyncIterator[httpx.AsyncClient]:
    transport = httpx.ASGITransport(app=app)
    async with httpx.AsyncClient(transport=transport, base_url="http://gateway") as http:
        yield http


@pytest.fixture
def fake_broker_type() -> type[FakeBroker]:
    return FakeBroker


@pytest.fixture
def make_rpc_error() -> Any:
    return rpc_error


@pytest.fixture
def settings_factory() -> Any:
    return make_settings
