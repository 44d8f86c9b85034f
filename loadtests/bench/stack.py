"""Starts the local City OS (`python -m cityos_devtools run`) for the bench and finds its processes."""

from __future__ import annotations

import contextlib
import json
import os
import signal
import subprocess
import sys
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

import psutil
from cityos_devtools.processes import spawn, stop_process, tail, wait_for

_START_TIMEOUT_S = 180.0
_STOP_TIMEOUT_S = 30.0
# Variables that would make the stack use outside stores instead of its embedded ones.
_STORE_VARIABLES = ("REDIS_URL", "S3_ENDPOINT", "S3_ACCESS_KEY", "S3_SECRET_KEY", "S3_BUCKET")
# Which service a child process is, by the module it runs (the broker worker by its log file, below).
_ROLES = {
    "cityos_broker": "broker",
    "cityos_gateway": "gateway",
    "cityos_identity": "identity",
    "valkey": "valkey",
    "weed": "s3",
}


class StackError(RuntimeError):
    """The stack did not start; the message carries the tail of its log."""


@dataclass(frozen=True)
class RunningStack:
    """Where the stack listens, and the pid of each of its processes by role."""

    gateway_url: str
    redis_url: str
    s3_endpoint: str
    runner_pid: int
    auth_mode: str = "open"
    admin_password_file: str = ""
    processes: dict[str, list[int]] = field(default_factory=dict)

    def count(self, role: str) -> int:
        """How many processes of `role` (broker, gateway, valkey, s3) run."""
        return len(self.processes.get(role, []))


def _roles(runner_pid: int) -> dict[str, list[int]]:
    found: dict[str, list[int]] = {}
    try:
        children = psutil.Process(runner_pid).children(recursive=True)
    except psutil.NoSuchProcess:
        return found
    for child in children:
        with contextlib.suppress(psutil.NoSuchProcess, psutil.AccessDenied):
            cmdline = " ".join(child.cmdline())
            for marker, role in _ROLES.items():
                if marker in cmdline:
                    if role == "broker" and _is_worker(child):
                        role = "broker-worker"
                    found.setdefault(role, []).append(child.pid)
                    break
    return found


def _is_worker(process: psutil.Process) -> bool:
    """A broker started as the stack's worker writes `broker-worker.log` (its stdout and stderr)."""
    return any(f.path.endswith("broker-worker.log") for f in process.open_files())


def _auth_args(repo_root: Path, env: dict[str, str], auth: str) -> list[str]:
    """`--auth <mode>` when the devstack has that option (older ones had no auth and ran open)."""
    helptext = subprocess.run(  # fixed argv, no user input
        [sys.executable, "-m", "cityos_devtools", "run", "--help"],
        cwd=repo_root,
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    ).stdout
    return ["--auth", auth] if "--auth" in helptext else []


def _read_ready(path: Path) -> dict[str, str] | None:
    try:
        document = json.loads(path.read_text())
    except (FileNotFoundError, ValueError):
        return None
    return document if isinstance(document, dict) and "gateway_url" in document else None


@contextlib.contextmanager
def running_stack(
    data_dir: Path, repo_root: Path, auth: str = "open", brokers: int = 1, broker_workers: bool = False
) -> Iterator[RunningStack]:
    """Run the stack with embedded stores and no demo data in `data_dir`; stop it with SIGINT on exit.

    `auth` is the gateway's mode: "oidc" (tokens required) or "open" (development: no checks); `brokers`
    the number of broker processes (the gateway balances over them); `broker_workers` runs the notifier
    and history recorder in a broker process of their own (role "broker-worker").
    """
    data_dir.mkdir(parents=True, exist_ok=True)
    ready = data_dir / "ready.json"
    log = data_dir / "stack.log"
    env = {k: v for k, v in os.environ.items() if k not in _STORE_VARIABLES}
    # One INFO access-log line per request is part of what the stack costs; keep the profile's default.
    argv = [sys.executable, "-m", "cityos_devtools", "run", "--data-dir", str(data_dir)]
    argv += [
        "--gateway-port",
        "0",
        "--ready-file",
        str(ready),
        "--no-seed",
        *_auth_args(repo_root, env, auth),
        *(["--broker-replicas", str(brokers)] if brokers != 1 else []),
        *(["--broker-workers"] if broker_workers else []),
    ]
    proc = spawn(argv, log, env=env, cwd=repo_root, death_signal=signal.SIGINT)
    try:
        if not wait_for(lambda: _read_ready(ready) is not None, proc, _START_TIMEOUT_S):
            raise StackError(f"the stack did not become ready (log {log}):\n{tail(log)}")
        info = _read_ready(ready)
        assert info is not None
        yield RunningStack(
            gateway_url=info["gateway_url"].rstrip("/"),
            redis_url=info["redis_url"],
            s3_endpoint=info.get("s3_endpoint", ""),
            runner_pid=proc.pid,
            auth_mode=str(info.get("auth_mode", "open")),
            admin_password_file=str(info.get("admin_password_file", "")),
            processes=_roles(proc.pid),
        )
    finally:
        stop_process(proc, timeout=_STOP_TIMEOUT_S, sig=signal.SIGINT)
