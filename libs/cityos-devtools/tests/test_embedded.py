"""Embedded Valkey and SeaweedFS: real servers on free ports whose data survives a restart."""

import io
import json
import socket
import stat
import subprocess
import sys
import textwrap
import time
from pathlib import Path

import pytest
import redis
from cityos_devtools import embedded
from cityos_devtools.embedded import EmbeddedS3, EmbeddedServerError, EmbeddedValkey
from cityos_devtools.processes import free_port
from cityos_devtools.settings import S3Settings
from minio import Minio

pytestmark = pytest.mark.integration


def _read(settings: S3Settings, key: str) -> bytes:
    client = Minio(settings.endpoint, settings.access_key, settings.secret_key, secure=False)
    response = client.get_object(settings.bucket, key)
    try:
        return response.read()
    finally:
        response.close()
        response.release_conn()


def test_valkey_keeps_a_key_across_stop_and_start(tmp_path: Path) -> None:
    with EmbeddedValkey(tmp_path) as server:
        assert server.port > 0
        with redis.Redis.from_url(server.url) as client:
            client.set("city", "sapporo")
    assert not server.running
    with EmbeddedValkey(tmp_path) as again, redis.Redis.from_url(again.url) as client:
        assert client.get("city") == b"sapporo"
        assert client.config_get("appendonly") == {"appendonly": "yes"}
    assert (tmp_path / "appendonlydir").is_dir()
    assert "Ready to accept connections" in (tmp_path / "valkey.log").read_text()


async def test_valkey_as_async_context_manager(tmp_path: Path) -> None:
    async with EmbeddedValkey(tmp_path) as server:
        with redis.Redis.from_url(server.url) as client:
            assert client.ping()
    assert not server.running


def test_valkey_on_a_taken_port_fails_with_its_log(tmp_path: Path) -> None:
    with EmbeddedValkey(tmp_path / "a") as first:
        taken = EmbeddedValkey(tmp_path / "b", port=first.port, startup_timeout=10)
        with pytest.raises(EmbeddedServerError, match=r"(?i)address already in use"):
            taken.start()
        assert not taken.running


def test_valkey_retries_on_a_new_port_when_its_port_is_taken_first(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    with socket.socket() as squatter:
        squatter.bind(("127.0.0.1", 0))
        squatter.listen()
        taken = squatter.getsockname()[1]
        ports = iter([taken])
        monkeypatch.setattr(embedded, "free_port", lambda: next(ports, None) or free_port())
        with EmbeddedValkey(tmp_path) as server:
            assert server.port != taken
            with redis.Redis.from_url(server.url) as client:
                assert client.ping()
    assert "address already in use" in (tmp_path / "valkey.log").read_text().lower()


def test_valkey_dies_with_its_parent(tmp_path: Path) -> None:
    script = textwrap.dedent(
        f"""
        import os, sys
        from cityos_devtools.embedded import EmbeddedValkey
        server = EmbeddedValkey({str(tmp_path)!r}).start()
        print(server.port, flush=True)
        os._exit(0)  # no atexit, no finally: only the kernel's death signal can stop the child
        """
    )
    port = int(
        subprocess.run([sys.executable, "-c", script], capture_output=True, check=True, text=True).stdout
    )
    deadline = time.monotonic() + 10
    while time.monotonic() < deadline:
        try:
            with redis.Redis(port=port, socket_connect_timeout=0.5) as client:
                client.ping()
        except redis.ConnectionError:
            return
        time.sleep(0.1)
    raise AssertionError(f"valkey on port {port} outlived its parent")


def test_s3_creates_the_bucket_and_keeps_objects_and_credentials(tmp_path: Path) -> None:
    with EmbeddedS3(tmp_path, bucket="city-docs") as server:
        settings = server.settings
        client = Minio(settings.endpoint, settings.access_key, settings.secret_key, secure=False)
        assert client.bucket_exists("city-docs")
        client.put_object("city-docs", "gauges/toyohira.json", io.BytesIO(b'{"level": 2.35}'), 15)
        assert _read(settings, "gauges/toyohira.json") == b'{"level": 2.35}'
    saved = tmp_path / "s3-credentials.json"
    assert stat.S_IMODE(saved.stat().st_mode) == 0o600
    assert json.loads(saved.read_text())["access_key"] == settings.access_key
    assert settings.secret_key not in (tmp_path / "seaweedfs.log").read_text()

    with EmbeddedS3(tmp_path, bucket="city-docs") as again:
        assert again.settings.access_key == settings.access_key
        assert again.settings.secret_key == settings.secret_key
        assert _read(again.settings, "gauges/toyohira.json") == b'{"level": 2.35}'


def test_s3_refuses_wrong_credentials(s3_settings: S3Settings) -> None:
    client = Minio(s3_settings.endpoint, s3_settings.access_key, "not-the-secret", secure=s3_settings.secure)
    with pytest.raises(Exception, match=r"(?i)signature|access|denied"):
        client.list_buckets()


def test_free_port_is_bindable() -> None:
    port = free_port()
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", port))
