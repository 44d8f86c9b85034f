"""What each image installs works on its own: no Docker engine is needed to prove the images' contents.

The Dockerfile's builder stage runs `uv sync --locked --no-dev --no-editable --package <service>` on a
build context that `.dockerignore` cuts down to pyproject.toml, uv.lock, libs/ and services/ without
tests. This test runs the very command the Dockerfile names for each service on such a context, then
starts every service from its own virtualenv, outside the repository (as the image's /app holds no
sources), and drives them together: broker and identity on gRPC, the gateway answering /readyz through
both. A module the wheel forgets (a Lua script, the bundled @context), a dependency declared only for
development, or an entry point that needs the source tree fails here, before an image is built.
"""

from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
import sys
import urllib.request
from collections.abc import Iterator
from pathlib import Path
from urllib.parse import urlsplit, urlunsplit

import pytest
from cityos_devtools.processes import spawn, stop_process, tail, wait_for

pytestmark = pytest.mark.integration

SERVICES = ("broker", "identity", "gateway")
_IGNORED = shutil.ignore_patterns(
    "tests", "__pycache__", "*.pyc", ".pytest_cache", ".mypy_cache", ".ruff_cache"
)
_DEV_TOOLS = ("pytest", "mypy", "ruff", "hypothesis", "locust")


def _sync_command(dockerfile: str, service: str) -> list[str]:
    """The `uv sync ...` arguments of the Dockerfile's `build-<service>` stage."""
    stage = re.search(rf"^FROM builder AS build-{service}\n(.*?)(?=^FROM )", dockerfile, re.M | re.S)
    assert stage, f"no build-{service} stage"
    command = re.search(r"uv (sync [^\n]+)", stage.group(1))
    assert command, f"build-{service} runs no uv sync"
    return command.group(1).split()


def _entrypoint(dockerfile: str, service: str) -> list[str]:
    stage = re.search(rf"^FROM runtime AS {service}\n(.*?)(?=^FROM |\Z)", dockerfile, re.M | re.S)
    assert stage, f"no {service} target"
    entry = re.search(r"^ENTRYPOINT (\[.*\])$", stage.group(1), re.M)
    assert entry, f"the {service} target has no ENTRYPOINT"
    return list(json.loads(entry.group(1)))


@pytest.fixture(scope="module")
def image_venvs(repo: Path, tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    """Each service's virtualenv, built as its image's builder stage builds it."""
    dockerfile = (repo / "infra" / "docker" / "Dockerfile").read_text()
    context = tmp_path_factory.mktemp("image-context")
    for name in ("pyproject.toml", "uv.lock"):
        shutil.copy2(repo / name, context / name)
    for folder in ("libs", "services"):
        shutil.copytree(repo / folder, context / folder, ignore=_IGNORED)
    uv = repo / ".tools" / "bin" / "uv"
    assert uv.exists(), "uv is installed by `make install`"
    venvs: dict[str, Path] = {}
    for service in SERVICES:
        venv = tmp_path_factory.mktemp(f"venv-{service}") / ".venv"
        env = {
            **os.environ,
            "UV_PROJECT_ENVIRONMENT": str(venv),
            "UV_PYTHON_DOWNLOADS": "never",
            "UV_LINK_MODE": "copy",
        }
        env.pop("VIRTUAL_ENV", None)
        proc = subprocess.run(
            [str(uv), *_sync_command(dockerfile, service), "--python", sys.executable],
            cwd=context,
            env=env,
            capture_output=True,
            text=True,
            check=False,
            timeout=600,
        )
        assert proc.returncode == 0, proc.stderr
        venvs[service] = venv
    return venvs


def _own_database(redis_url: str) -> str:
    """Identity keeps platform-wide records: its own logical database (9 and 12 are other tests')."""
    return urlunsplit(urlsplit(redis_url)._replace(path="/13"))


def test_images_install_no_development_tools(image_venvs: dict[str, Path]) -> None:
    for service, venv in image_venvs.items():
        site = next((venv / "lib").glob("python3*/site-packages"))
        present = [tool for tool in _DEV_TOOLS if (site / tool).exists()]
        assert not present, f"the {service} image would carry {present}"
        # Installed as wheels (no editable links back into a source tree).
        assert not list(site.glob("__editable__*")), service
        assert not list(site.glob("*.pth")) or all(
            "/services/" not in p.read_text() and "/libs/" not in p.read_text() for p in site.glob("*.pth")
        ), service


class _Started:
    """A service process started from its image virtualenv, with its log."""

    def __init__(self, proc: subprocess.Popen[bytes], log: Path) -> None:
        self.proc = proc
        self.log = log

    def listening(self) -> dict[str, object] | None:
        for line in self.log.read_text(errors="replace").splitlines():
            if '"event":"listening"' in line.replace(" ", ""):
                return dict(json.loads(line))
        return None


@pytest.fixture
def start(repo: Path, image_venvs: dict[str, Path], tmp_path: Path) -> Iterator[object]:
    dockerfile = (repo / "infra" / "docker" / "Dockerfile").read_text()
    started: list[_Started] = []
    workdir = tmp_path / "app"  # the image's WORKDIR: nothing of the repository in it
    workdir.mkdir()

    def run(service: str, env: dict[str, str]) -> _Started:
        python = image_venvs[service] / "bin" / "python"
        argv = [str(python), *_entrypoint(dockerfile, service)[1:]]
        base = {"PATH": f"{python.parent}:/usr/bin:/bin", "HOME": str(tmp_path), "LOG_FORMAT": "json"}
        log = tmp_path / f"{service}.log"
        one = _Started(spawn(argv, log, env={**base, **env}, cwd=workdir), log)
        started.append(one)
        assert wait_for(lambda: one.listening() is not None, one.proc, 60), tail(log)
        return one

    yield run
    for one in reversed(started):
        assert stop_process(one.proc) == 0, tail(one.log)


def test_services_start_from_their_image_virtualenvs_and_work_together(start: object, redis_url: str) -> None:
    run = start
    assert callable(run)
    broker = run(
        "broker",
        {"REDIS_URL": redis_url, "BROKER_GRPC_HOST": "127.0.0.1", "BROKER_GRPC_PORT": "0"},
    )
    identity = run(
        "identity",
        {
            "REDIS_URL": _own_database(redis_url),
            "IDENTITY_GRPC_HOST": "127.0.0.1",
            "IDENTITY_GRPC_PORT": "0",
            "IDENTITY_ISSUER": "https://cityos.example.jp",
            "IDENTITY_BOOTSTRAP_ADMIN_PASSWORD": "image-test-admin-password",
            "IDENTITY_KEY_ENCRYPTION_SECRET": "image-test-key-encryption-secret",
        },
    )
    gateway = run(
        "gateway",
        {
            "REDIS_URL": redis_url,
            "GATEWAY_HOST": "127.0.0.1",
            "GATEWAY_PORT": "0",
            "BROKER_ADDRESS": f"127.0.0.1:{broker.listening()['port']}",  # type: ignore[index]
            "IDENTITY_ADDRESS": f"127.0.0.1:{identity.listening()['port']}",  # type: ignore[index]
            "IDENTITY_ISSUER": "https://cityos.example.jp",
            # Open mode only to write without minting a token here; auth is proven by the e2e tests.
            "GATEWAY_AUTH_MODE": "open",
        },
    )
    url = str(gateway.listening()["url"])  # type: ignore[index]
    with urllib.request.urlopen(f"{url}/readyz", timeout=10) as ready:
        assert ready.status == 200
    with urllib.request.urlopen(f"{url}/.well-known/openid-configuration", timeout=10) as discovery:
        assert json.loads(discovery.read())["issuer"] == "https://cityos.example.jp"
    # A write and a read: the broker's Lua scripts and bundled core @context come from its wheel.
    entity = {"id": "urn:ngsi-ld:Thing:image-1", "type": "Thing", "level": {"type": "Property", "value": 1}}
    created = urllib.request.Request(
        f"{url}/ngsi-ld/v1/entities",
        data=json.dumps(entity).encode(),
        headers={"Content-Type": "application/json", "NGSILD-Tenant": "imagetest"},
        method="POST",
    )
    with urllib.request.urlopen(created, timeout=10) as answer:
        assert answer.status == 201
    read = urllib.request.Request(
        f"{url}/ngsi-ld/v1/entities/{entity['id']}?format=simplified",
        headers={"Accept": "application/json", "NGSILD-Tenant": "imagetest"},
    )
    with urllib.request.urlopen(read, timeout=10) as answer:
        assert json.loads(answer.read())["level"] == 1
