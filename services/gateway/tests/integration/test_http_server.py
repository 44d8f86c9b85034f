"""uvicorn with httptools on a pre-bound port-0 socket: the listening log line and real HTTP requests."""

from __future__ import annotations

import asyncio
import logging
from typing import Any

import httpx
import pytest
from cityos.broker.v1 import broker_pb2 as pb
from cityos_gateway.app import create_app
from cityos_gateway.config import GatewaySettings
from cityos_gateway.server import bind_socket, listening_url, uvicorn_server
from cityos_runtime.config import CommonSettings

pytestmark = pytest.mark.integration


class _Stub:
    """Answers RetrieveEntity with the id it was asked for, so the test sees the decoded path."""

    async def RetrieveEntity(self, request: pb.RetrieveEntityRequest, **_: Any) -> pb.Document:
        return pb.Document(body=request.id.encode(), content_type="application/json")

    def __getattr__(self, name: str) -> Any:
        async def unused(request: Any, **_: Any) -> Any:
            raise AssertionError(f"unexpected call {name}")

        return unused


async def test_serves_on_the_logged_port(caplog: pytest.LogCaptureFixture) -> None:
    settings = GatewaySettings(common=CommonSettings("gateway"), host="127.0.0.1", port=0)
    app = create_app(settings, _Stub())  # type: ignore[arg-type]
    sock = bind_socket(settings.host, settings.port)
    server = uvicorn_server(app, settings)
    with caplog.at_level(logging.INFO, logger="cityos.gateway"):
        task = asyncio.create_task(server.serve(sockets=[sock]))
        try:
            for _ in range(500):
                if server.started:
                    break
                await asyncio.sleep(0.01)
            (record,) = [r for r in caplog.records if getattr(r, "event", "") == "listening"]
            url = record.url  # type: ignore[attr-defined]
            assert url == listening_url(sock)
            assert not url.endswith(":0")
            async with httpx.AsyncClient(base_url=url) as http:
                assert (await http.get("/healthz")).status_code == 200
                response = await http.get("/ngsi-ld/v1/entities/urn:x:a%2Fb%20c")
                assert response.status_code == 200
                assert response.content == b"urn:x:a/b c"
        finally:
            server.should_exit = True
            await task
