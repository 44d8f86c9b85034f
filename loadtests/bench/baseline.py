"""The floor the gateway is compared to: a bare uvicorn -> grpc.aio -> Redis pipeline in separate processes.

`python -m loadtests.bench.baseline grpc|http ...` runs one side; `BaselinePipeline` starts both. The HTTP
side is a raw ASGI app (no framework) that forwards each POST body unchanged by one unary grpc.aio call; the
gRPC side is a generic bytes handler (no protos) that writes the body to Redis with one pipeline: HSET of
the document plus ZADD into a type index, the shape of an entity write with one index.
"""

from __future__ import annotations

import argparse
import contextlib
import json
import os
import socket
import subprocess
import sys
from collections.abc import Awaitable, Callable, Iterator, MutableMapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import grpc
import orjson
import redis.asyncio as aioredis
import uvicorn
import uvloop
from cityos_devtools.processes import spawn, stop_process, tail, wait_for

_METHOD = "/cityos.bench.v1.Baseline/Write"
_KEY_PREFIX = "bench:baseline:"
_START_TIMEOUT_S = 30.0
Scope = MutableMapping[str, Any]
Message = MutableMapping[str, Any]
Receive = Callable[[], Awaitable[Message]]
Send = Callable[[Message], Awaitable[None]]


def _write_ready(path: Path, port: int) -> None:
    """Publish the bound port atomically, so the parent never reads half a file."""
    tmp = path.with_suffix(".tmp")
    tmp.write_text(json.dumps({"port": port}))
    tmp.replace(path)


class _RedisWriter:
    """The gRPC side: one pipeline per request, HSET of the document and ZADD into its type index."""

    def __init__(self, client: aioredis.Redis) -> None:
        self._redis = client

    async def write(self, request: bytes, context: grpc.aio.ServicerContext) -> bytes:
        doc = orjson.loads(request)
        entities = doc if isinstance(doc, list) else [doc]
        pipe = self._redis.pipeline(transaction=False)
        for entity in entities:
            entity_id = str(entity["id"])
            body = request if len(entities) == 1 else orjson.dumps(entity)
            pipe.hset(f"{_KEY_PREFIX}e:{entity_id}", "doc", body)
            pipe.zadd(f"{_KEY_PREFIX}t:{entity.get('type', '')}", {entity_id: 0})
        await pipe.execute()
        return b""


async def _serve_grpc(redis_url: str, ready_file: Path) -> None:
    client = aioredis.Redis.from_url(redis_url)
    writer = _RedisWriter(client)
    # No serializers: requests and responses stay bytes, as a generic handler without protos.
    handler = grpc.method_handlers_generic_handler(
        "cityos.bench.v1.Baseline", {"Write": grpc.unary_unary_rpc_method_handler(writer.write)}
    )
    server = grpc.aio.server()
    server.add_generic_rpc_handlers((handler,))
    port = server.add_insecure_port("127.0.0.1:0")
    await server.start()
    _write_ready(ready_file, port)
    try:
        await server.wait_for_termination()
    finally:
        await server.stop(1)
        await client.aclose()


class ForwardingApp:
    """The HTTP side: a raw ASGI app that forwards each POST body by one unary grpc.aio call."""

    def __init__(self, grpc_address: str) -> None:
        self._address = grpc_address
        self._channel: grpc.aio.Channel | None = None
        self._call: grpc.aio.UnaryUnaryMultiCallable | None = None

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "lifespan":
            await self._lifespan(receive, send)
            return
        if scope["type"] != "http":
            return
        chunks = []
        while True:
            message = await receive()
            chunks.append(message.get("body", b""))
            if not message.get("more_body", False):
                break
        if scope["method"] != "POST" or self._call is None:
            await _respond(send, 405)
            return
        await self._call(b"".join(chunks))
        await _respond(send, 204)

    async def _lifespan(self, receive: Receive, send: Send) -> None:
        while True:
            message = await receive()
            if message["type"] == "lifespan.startup":
                self._channel = grpc.aio.insecure_channel(self._address)
                self._call = self._channel.unary_unary(_METHOD)
                await send({"type": "lifespan.startup.complete"})
            elif message["type"] == "lifespan.shutdown":
                if self._channel is not None:
                    await self._channel.close()
                await send({"type": "lifespan.shutdown.complete"})
                return


async def _respond(send: Send, status: int) -> None:
    await send({"type": "http.response.start", "status": status, "headers": [(b"content-length", b"0")]})
    await send({"type": "http.response.body", "body": b""})


async def _serve_http(grpc_address: str, ready_file: Path) -> None:
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    sock.bind(("127.0.0.1", 0))
    config = uvicorn.Config(
        ForwardingApp(grpc_address),
        loop="uvloop",
        http="httptools",
        lifespan="on",
        access_log=False,
        log_level="warning",
    )
    # Listening before uvicorn starts lets the port be published at once: early connections wait in the
    # backlog until the server accepts them.
    sock.listen(2048)
    _write_ready(ready_file, sock.getsockname()[1])
    await uvicorn.Server(config).serve(sockets=[sock])


def _read_port(path: Path) -> int | None:
    try:
        return int(json.loads(path.read_text())["port"])
    except (FileNotFoundError, ValueError, KeyError):
        return None


@dataclass(frozen=True)
class BaselineServers:
    """The running bare pipeline: its HTTP base URL and the pid of each side."""

    url: str
    pids: dict[str, int]


@contextlib.contextmanager
def baseline_pipeline(redis_url: str, work_dir: Path, repo_root: Path) -> Iterator[BaselineServers]:
    """Start the gRPC and HTTP sides as child processes; yield where they are; stop both on exit."""
    work_dir.mkdir(parents=True, exist_ok=True)
    env = {**os.environ, "PYTHONPATH": str(repo_root)}
    procs: list[subprocess.Popen[bytes]] = []
    try:
        grpc_port = _start(["grpc", "--redis-url", redis_url], "grpc", work_dir, repo_root, env, procs)
        http_port = _start(
            ["http", "--grpc-address", f"127.0.0.1:{grpc_port}"], "http", work_dir, repo_root, env, procs
        )
        pids = {"baseline-grpc": procs[0].pid, "baseline-http": procs[1].pid}
        yield BaselineServers(f"http://127.0.0.1:{http_port}", pids)
    finally:
        for proc in reversed(procs):
            stop_process(proc, timeout=10.0)


def _start(
    args: list[str],
    name: str,
    work_dir: Path,
    repo_root: Path,
    env: dict[str, str],
    procs: list[subprocess.Popen[bytes]],
) -> int:
    """Spawn one side, remember it in `procs` (so it is stopped even if start-up fails), return its port."""
    ready = work_dir / f"baseline-{name}.json"
    ready.unlink(missing_ok=True)
    log = work_dir / f"baseline-{name}.log"
    argv = [sys.executable, "-m", "loadtests.bench.baseline", *args, "--ready-file", str(ready)]
    proc = spawn(argv, log, env=env, cwd=repo_root)
    procs.append(proc)
    if not wait_for(lambda: _read_port(ready) is not None, proc, _START_TIMEOUT_S):
        raise RuntimeError(f"the baseline {name} server did not start:\n{tail(log)}")
    port = _read_port(ready)
    assert port is not None
    return port


def main(argv: list[str] | None = None) -> None:
    """Entry point of one baseline process."""
    parser = argparse.ArgumentParser(prog="python -m loadtests.bench.baseline", description=__doc__)
    sub = parser.add_subparsers(dest="side", required=True)
    grpc_side = sub.add_parser("grpc", help="the grpc.aio server that writes to Redis")
    grpc_side.add_argument("--redis-url", required=True)
    grpc_side.add_argument("--ready-file", type=Path, required=True)
    http_side = sub.add_parser("http", help="the uvicorn raw ASGI app that forwards to the gRPC side")
    http_side.add_argument("--grpc-address", required=True)
    http_side.add_argument("--ready-file", type=Path, required=True)
    args = parser.parse_args(argv)
    if args.side == "grpc":
        uvloop.run(_serve_grpc(args.redis_url, args.ready_file))
    else:
        uvloop.run(_serve_http(args.grpc_address, args.ready_file))


if __name__ == "__main__":
    with contextlib.suppress(KeyboardInterrupt):
        main()
