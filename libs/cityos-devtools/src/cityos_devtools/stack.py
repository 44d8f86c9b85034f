"""`cityos-dev run`: stores, then every service in order, readiness, demo data, then wait for Ctrl-C."""

from __future__ import annotations

import contextlib
import json
import os
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from types import FrameType, MappingProxyType
from typing import TextIO

import httpx

from cityos_devtools.access_seed import AccessSeedError, DemoAccess, admin_login, secret_file, seed_access
from cityos_devtools.banner import API_PATH, render_banner
from cityos_devtools.embedded import EmbeddedS3, EmbeddedServerError, EmbeddedValkey, ensure_bucket
from cityos_devtools.oauth import LoginError
from cityos_devtools.processes import LOOPBACK, spawn, stop_process, tail
from cityos_devtools.seed import SeedError, seed
from cityos_devtools.services import SERVICES, ServiceSpec, StackEnv, common_env, listening_address
from cityos_devtools.settings import S3Settings

_LISTEN_TIMEOUT = 60.0
_READY_TIMEOUT = 60.0
_SERVICE_STOP_TIMEOUT = 20.0


@dataclass(frozen=True)
class RunOptions:
    """What `cityos-dev run` was asked to do."""

    data_dir: Path
    gateway_port: int = 8080
    seed: bool = True
    ready_file: Path | None = None
    auth: str = "oidc"  # the gateway's GATEWAY_AUTH_MODE; "open" only for development
    broker_replicas: int = 1  # broker processes; the gateway gets all their addresses
    broker_workers: bool = False  # notifier and history recorder in a broker process of their own


class StartupError(RuntimeError):
    """The stack could not start; the message says which part and carries its log tail."""


class _Stop(BaseException):
    """Raised by the SIGINT/SIGTERM handler to leave whatever the runner is doing (like KeyboardInterrupt)."""


@contextlib.contextmanager
def _stop_signals(out: TextIO) -> Iterator[None]:
    """SIGINT and SIGTERM raise _Stop once; repeats during shutdown are only acknowledged."""
    stopping = False

    def handler(signum: int, frame: FrameType | None) -> None:
        nonlocal stopping
        if stopping:
            _say(out, "already stopping; waiting for the services to exit")
            return
        stopping = True
        raise _Stop

    previous = {sig: signal.signal(sig, handler) for sig in (signal.SIGINT, signal.SIGTERM)}
    try:
        yield
    finally:
        for sig, old in previous.items():
            signal.signal(sig, old)


def _say(out: TextIO, message: str) -> None:
    out.write(f"cityos-dev: {message}\n")
    out.flush()


@dataclass
class _Running:
    """A started service."""

    spec: ServiceSpec
    proc: subprocess.Popen[bytes]
    log: Path
    name: str  # the spec's name, numbered from the second replica on ("broker-2")


def run(options: RunOptions, out: TextIO = sys.stdout) -> int:
    """Run the stack until SIGINT/SIGTERM (exit 0) or a failure (exit 1); stops all in reverse order."""
    data_dir = options.data_dir.resolve()
    logs = data_dir / "logs"
    logs.mkdir(parents=True, exist_ok=True)
    with _stop_signals(out), contextlib.ExitStack() as stack:
        try:
            if options.ready_file is not None:
                options.ready_file.unlink(missing_ok=True)
                stack.callback(options.ready_file.unlink, missing_ok=True)
            env, stores = _start_stores(data_dir, logs, options.gateway_port, stack, out)
            env.auth_mode = options.auth
            env.admin_password = secret_file(data_dir / "identity" / "admin-password")
            env.replicas["broker"] = options.broker_replicas
            if options.broker_workers:
                env.workers_apart.add("broker")
            running = [
                started for spec in SERVICES for started in _start_replicas(spec, env, logs, stack, out)
            ]
            gateway_url = env.addresses["gateway"]
            _wait_ready(gateway_url, running)
            access = _seed(gateway_url, data_dir, env, out) if options.seed else None
            log_files = sorted(logs.glob("*.log"))
            out.write(render_banner(gateway_url, data_dir, log_files, stores, options.auth, access))
            out.flush()
            if options.ready_file is not None:
                _write_ready_file(options.ready_file, gateway_url, env, data_dir)
            return _supervise(running, out)
        except _Stop:
            _say(out, "stopping (reverse order)")
            return 0
        except StartupError as exc:
            _say(out, f"start-up failed: {exc}")
            return 1
        # Leaving the ExitStack stops the services in reverse order, then S3, then Valkey.
    return 0  # not reached: every path above returns; mypy cannot tell that ExitStack re-raises


def _start_stores(
    data_dir: Path, logs: Path, gateway_port: int, stack: contextlib.ExitStack, out: TextIO
) -> tuple[StackEnv, list[str]]:
    """REDIS_URL / S3_ENDPOINT when set, else embedded Valkey / SeaweedFS with data under `data_dir`."""
    stores: list[str] = []
    redis_url = os.environ.get("REDIS_URL", "").strip()
    try:
        if redis_url:
            stores.append("Redis: REDIS_URL from the environment")
        else:
            _say(out, "starting embedded Valkey")
            valkey = stack.enter_context(EmbeddedValkey(data_dir / "valkey", log_path=logs / "valkey.log"))
            redis_url = valkey.url
            stores.append(f"Valkey (embedded): {redis_url}")
        s3 = S3Settings.from_env()
        if s3 is not None:
            ensure_bucket(s3)
            stores.append(f"S3: {s3.endpoint} from the environment, bucket {s3.bucket}")
        else:
            _say(out, "starting embedded SeaweedFS S3")
            seaweed = stack.enter_context(EmbeddedS3(data_dir / "s3", log_path=logs / "seaweedfs.log"))
            s3 = seaweed.settings
            stores.append(f"S3 (embedded SeaweedFS): {s3.endpoint}, bucket {s3.bucket}")
    except (EmbeddedServerError, ValueError) as exc:
        raise StartupError(str(exc)) from exc
    embedded = not os.environ.get("REDIS_URL", "").strip()
    env = StackEnv(
        redis_url=redis_url, s3=s3, gateway_port=gateway_port or _free_port(), embedded_redis=embedded
    )
    return env, stores


def _free_port() -> int:
    """A free loopback port for the gateway: the identity service must know the issuer URL before the
    gateway starts (a port taken in between makes the gateway fail with "address already in use")."""
    with socket.socket() as probe:
        probe.bind((LOOPBACK, 0))
        return int(probe.getsockname()[1])


def _start_replicas(
    spec: ServiceSpec, env: StackEnv, logs: Path, stack: contextlib.ExitStack, out: TextIO
) -> list[_Running]:
    """Start a service's processes (`env.replicas`, default one) one after the other; their addresses
    join `env.addresses` as one comma list (the gateway balances over a list of broker addresses)."""
    started: list[_Running] = []
    addresses: list[str] = []
    for number in range(1, env.replicas.get(spec.name, 1) + 1):
        name = spec.name if number == 1 else f"{spec.name}-{number}"
        running, address = _start_service(spec, name, env, logs, stack, out, spec.serving_env(env))
        started.append(running)
        addresses.append(address)
    if spec.worker_env is not None and spec.serving_env(env):
        # The background work the serving replicas leave out runs here; the gateway never calls it.
        running, _ = _start_service(spec, f"{spec.name}-worker", env, logs, stack, out, spec.worker_env)
        started.append(running)
    env.addresses[spec.name] = ",".join(addresses)
    return started


def _start_service(
    spec: ServiceSpec,
    name: str,
    env: StackEnv,
    logs: Path,
    stack: contextlib.ExitStack,
    out: TextIO,
    overrides: Mapping[str, str] = MappingProxyType({}),
) -> tuple[_Running, str]:
    """Start one process of a service and wait for its listening line; returns it and its address."""
    log = logs / f"{name}.log"
    offset = log.stat().st_size if log.exists() else 0
    child_env = {**os.environ, **common_env(env), **spec.env(env), **overrides}
    _say(out, f"starting {name} (log: {log})")
    proc = spawn([sys.executable, "-m", spec.module], log, env=child_env)
    stack.callback(_stop_service, name, proc, out)
    return _Running(spec, proc, log, name), _wait_listening(name, proc, log, offset)


def _stop_service(name: str, proc: subprocess.Popen[bytes], out: TextIO) -> None:
    code = stop_process(proc, timeout=_SERVICE_STOP_TIMEOUT)
    # uvicorn re-raises the SIGTERM it handled after a graceful shutdown, so -SIGTERM is a clean stop too.
    if code in (0, -signal.SIGTERM):
        _say(out, f"{name} stopped")
    else:
        _say(out, f"{name} exited with code {code} while stopping (see its log)")


def _wait_listening(name: str, proc: subprocess.Popen[bytes], log: Path, offset: int) -> str:
    """Read the service's new log lines until its {"event": "listening"} record appears."""
    deadline = time.monotonic() + _LISTEN_TIMEOUT
    pending = b""
    with log.open("rb") as stream:
        stream.seek(offset)
        while time.monotonic() < deadline:
            pending += stream.read()
            *lines, pending = pending.split(b"\n")
            for line in lines:
                address = _listening_in(line)
                if address is not None:
                    return address
            if proc.poll() is not None:
                raise StartupError(
                    f"{name} exited with code {proc.returncode}; {log} ends with:\n{tail(log)}"
                )
            time.sleep(0.05)
    raise StartupError(f"{name} did not log its listening address within {_LISTEN_TIMEOUT:g}s:\n{tail(log)}")


def _listening_in(line: bytes) -> str | None:
    if not line.startswith(b"{"):
        return None
    try:
        record = json.loads(line)
    except ValueError:
        return None
    return listening_address(record) if isinstance(record, dict) else None


def _wait_ready(gateway_url: str, running: list[_Running]) -> None:
    """Poll the gateway's /readyz until 200; fail early when a service exits."""
    deadline = time.monotonic() + _READY_TIMEOUT
    last = "no answer"
    with httpx.Client(timeout=2.0) as client:
        while time.monotonic() < deadline:
            _check_alive(running)
            try:
                response = client.get(f"{gateway_url}/readyz")
                if response.status_code == 200:
                    return
                last = f"HTTP {response.status_code}: {response.text[:500]}"
            except httpx.HTTPError as exc:
                last = repr(exc)
            time.sleep(0.1)
    raise StartupError(f"{gateway_url}/readyz did not answer 200 within {_READY_TIMEOUT:g}s (last: {last})")


def _check_alive(running: list[_Running]) -> None:
    for service in running:
        if service.proc.poll() is not None:
            raise StartupError(
                f"{service.name} exited with code {service.proc.returncode}; "
                f"{service.log} ends with:\n{tail(service.log)}"
            )


def _seed(gateway_url: str, data_dir: Path, env: StackEnv, out: TextIO) -> DemoAccess:
    """Demo tenants, principals and access rules (as the bootstrap admin), then the demo entities."""
    default_tenant = os.environ.get("CITYOS_DEFAULT_TENANT", "default") or "default"
    resident_password = secret_file(data_dir / "identity" / "demo-resident-password")
    try:
        tokens = admin_login(gateway_url, default_tenant, env.admin_password)
        bearer = {"Authorization": f"Bearer {tokens.token()}"}
        tokens.close()
        with httpx.Client(base_url=gateway_url + "/admin/v1", headers=bearer, timeout=30.0) as admin:
            access = seed_access(admin, gateway_url, resident_password)
        with httpx.Client(base_url=gateway_url + API_PATH, headers=bearer, timeout=30.0) as client:
            counts = seed(client, datetime.now(UTC))
    except (SeedError, AccessSeedError, LoginError, httpx.HTTPError) as exc:
        raise StartupError(f"seeding the demo data failed: {exc}") from exc
    summary = ", ".join(f"{tenant} {count}" for tenant, count in counts.items())
    _say(out, f"demo data upserted (entities per tenant: {summary})")
    return access


def _write_ready_file(path: Path, gateway_url: str, env: StackEnv, data_dir: Path) -> None:
    """Atomically write where the running stack is, for scripts and tests."""
    document = {
        "gateway_url": gateway_url,
        "redis_url": env.redis_url,
        "s3_endpoint": env.s3.endpoint,
        "broker_address": env.addresses["broker"],
        "auth_mode": env.auth_mode,
        "admin_username": "admin",
        "admin_password_file": str(data_dir / "identity" / "admin-password"),
    }
    path.parent.mkdir(parents=True, exist_ok=True)
    partial = path.with_name(path.name + ".partial")
    partial.write_text(json.dumps(document))
    partial.replace(path)


def _supervise(running: list[_Running], out: TextIO) -> int:
    """Block until a signal (raises _Stop) or until a service exits on its own (returns 1)."""
    while True:
        try:
            _check_alive(running)
        except StartupError as exc:
            _say(out, str(exc))
            return 1
        time.sleep(0.2)
