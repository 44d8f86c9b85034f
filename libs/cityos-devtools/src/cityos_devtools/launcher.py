"""Run `python -m cityos_devtools run` as a child process exactly as a user does (for end-to-end tests)."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path
from typing import Any, Self

from cityos_devtools.processes import spawn, stop_process, tail

# Variables that would point the stack at outside servers; the launched stack uses embedded ones.
_EXTERNAL_STORE_VARS = ("REDIS_URL", "S3_ENDPOINT", "S3_ACCESS_KEY", "S3_SECRET_KEY", "S3_SECURE")


class StackStartError(RuntimeError):
    """The stack did not become ready; the message holds the runner's output and every log's tail."""


class LaunchedStack:
    """One `cityos-dev run --gateway-port 0 --ready-file ...` process on a given data folder."""

    def __init__(
        self,
        data_dir: Path,
        *,
        seed: bool = True,
        embedded_stores: bool = True,
        auth: str = "open",
        broker_replicas: int = 1,
        broker_workers: bool = False,
    ) -> None:
        # auth="open" by default keeps callers that drive the API without tokens working; the e2e suite's
        # main stack passes auth="oidc".
        self.data_dir = data_dir.resolve()
        self.seed = seed
        self.auth = auth
        self.embedded_stores = embedded_stores
        self.broker_replicas = broker_replicas
        self.broker_workers = broker_workers
        self.ready_file = self.data_dir / "ready.json"
        self.output_path = self.data_dir / "cityos-dev.out"
        self.ready: dict[str, Any] = {}
        self._proc: subprocess.Popen[bytes] | None = None

    @property
    def gateway_url(self) -> str:
        """The gateway's base URL (http://127.0.0.1:<port>), known once started."""
        return str(self.ready["gateway_url"])

    def start(self, timeout: float = 90.0) -> Self:
        """Start the runner and wait for its ready file; StackStartError with the log tails otherwise."""
        self.data_dir.mkdir(parents=True, exist_ok=True)
        self.ready_file.unlink(missing_ok=True)
        argv = [sys.executable, "-m", "cityos_devtools", "run", "--data-dir", str(self.data_dir)]
        argv += ["--gateway-port", "0", "--ready-file", str(self.ready_file)]
        argv += ["--auth", self.auth]
        if self.broker_replicas != 1:
            argv += ["--broker-replicas", str(self.broker_replicas)]
        if self.broker_workers:
            argv.append("--broker-workers")
        if not self.seed:
            argv.append("--no-seed")
        env = dict(os.environ)
        if self.embedded_stores:
            for name in _EXTERNAL_STORE_VARS:
                env.pop(name, None)
        self._proc = spawn(argv, self.output_path, env=env)
        deadline = time.monotonic() + timeout
        while not self.ready_file.exists():
            if self._proc.poll() is not None:
                code = self._proc.returncode
                raise StackStartError(f"cityos-dev exited with code {code}\n{self.diagnostics()}")
            if time.monotonic() > deadline:
                self.interrupt()
                raise StackStartError(f"cityos-dev was not ready within {timeout:g}s\n{self.diagnostics()}")
            time.sleep(0.1)
        self.ready = json.loads(self.ready_file.read_text())
        return self

    def output(self) -> str:
        """Everything the runner printed so far."""
        return self.output_path.read_text(errors="replace") if self.output_path.exists() else ""

    def interrupt(self, timeout: float = 60.0, sig: signal.Signals = signal.SIGINT) -> int:
        """Press Ctrl-C (or send `sig`), wait for the runner to exit; its exit code (killed after timeout)."""
        if self._proc is None:
            raise RuntimeError("the stack was never started")
        return stop_process(self._proc, timeout=timeout, sig=sig)

    def diagnostics(self) -> str:
        """The runner's output and the tail of every service log, for failure messages."""
        parts = [f"--- cityos-dev output ({self.output_path}):\n{tail(self.output_path, 60)}"]
        for log in sorted((self.data_dir / "logs").glob("*.log")):
            parts.append(f"--- {log}:\n{tail(log, 30)}")
        return "\n".join(parts)
