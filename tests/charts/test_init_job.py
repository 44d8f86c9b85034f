"""The post-install Job and its script (files/init_tenant.py), exercised without sockets."""

from __future__ import annotations

import importlib.util
import io
import sys
import urllib.error
import urllib.request
from pathlib import Path
from types import ModuleType
from typing import Any

import pytest


@pytest.fixture(scope="module")
def init_script(chart_dir: Path) -> ModuleType:
    """Import the Job's script as a module."""
    spec = importlib.util.spec_from_file_location(
        "cityos_init_tenant", chart_dir / "files" / "init_tenant.py"
    )
    assert spec and spec.loader
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module
    spec.loader.exec_module(module)
    return module


def test_job_is_a_post_install_hook_running_the_script(rendered: dict[str, Any], chart_dir: Path) -> None:
    result = rendered["minimal"]
    job = result.get("Job", "demo-cityos-init")
    assert job["metadata"]["annotations"]["helm.sh/hook"] == "post-install"
    pod = job["spec"]["template"]["spec"]
    container = pod["containers"][0]
    assert container["command"] == ["python", "/scripts/init_tenant.py"]
    assert container["image"] == "ghcr.io/cityos/cityos-gateway:0.1.0"
    env = {e["name"]: e["value"] for e in container["env"]}
    assert env["CITYOS_GATEWAY_URL"] == "http://demo-cityos-gateway:8080"
    assert env["CITYOS_INIT_TENANT"] == "prefecture"
    script = result.get("ConfigMap", "demo-cityos-init")["data"]["init_tenant.py"]
    assert script == (chart_dir / "files" / "init_tenant.py").read_text()


def test_job_can_be_disabled(render: Any, values_of: Any) -> None:
    values = values_of("minimal")
    values["initJob"] = {"enabled": False}
    result = render(values)
    assert not result.of_kind("Job")
    assert not result.component("init")


class _Response(io.BytesIO):
    def __init__(self, status: int) -> None:
        super().__init__(b"")
        self.status = status


def test_script_waits_then_creates_the_tenant(
    init_script: ModuleType, monkeypatch: pytest.MonkeyPatch
) -> None:
    calls: list[urllib.request.Request] = []
    answers: list[Any] = [ConnectionRefusedError("starting"), 200, 201]

    def fake_urlopen(request: urllib.request.Request, timeout: float) -> _Response:
        calls.append(request)
        answer = answers.pop(0)
        if isinstance(answer, Exception):
            raise answer
        return _Response(answer)

    monkeypatch.setattr(init_script.urllib.request, "urlopen", fake_urlopen)
    monkeypatch.setattr(init_script.time, "sleep", lambda _s: None)
    monkeypatch.setenv("CITYOS_GATEWAY_URL", "http://gw:8080/")
    monkeypatch.setenv("CITYOS_INIT_TENANT", "hokkaido")
    monkeypatch.setenv("CITYOS_INIT_WAIT_SECONDS", "60")
    init_script.main()
    assert [c.full_url for c in calls] == [
        "http://gw:8080/readyz",
        "http://gw:8080/readyz",
        "http://gw:8080/ngsi-ld/v1/entities",
    ]
    create = calls[-1]
    assert create.get_method() == "POST"
    assert create.get_header("Ngsild-tenant") == "hokkaido"
    assert b'"urn:ngsi-ld:CityOSTenant:hokkaido"' in (create.data or b"")


@pytest.mark.parametrize(("status", "ok"), [(201, True), (409, True), (400, False), (500, False)])
def test_script_accepts_created_or_existing_only(
    init_script: ModuleType, monkeypatch: pytest.MonkeyPatch, status: int, ok: bool
) -> None:
    def fake_urlopen(request: urllib.request.Request, timeout: float) -> _Response:
        if request.full_url.endswith("/readyz"):
            return _Response(200)
        raise urllib.error.HTTPError(request.full_url, status, "status", {}, None)  # type: ignore[arg-type]

    monkeypatch.setattr(init_script.urllib.request, "urlopen", fake_urlopen)
    monkeypatch.setenv("CITYOS_GATEWAY_URL", "http://gw:8080")
    monkeypatch.setenv("CITYOS_INIT_TENANT", "hokkaido")
    if ok:
        init_script.main()
    else:
        with pytest.raises(SystemExit, match=f"HTTP {status}"):
            init_script.main()


def test_script_gives_up_after_the_deadline(init_script: ModuleType, monkeypatch: pytest.MonkeyPatch) -> None:
    def refused(request: urllib.request.Request, timeout: float) -> _Response:
        raise ConnectionRefusedError("down")

    monkeypatch.setattr(init_script.urllib.request, "urlopen", refused)
    monkeypatch.setattr(init_script.time, "sleep", lambda _s: None)
    with pytest.raises(SystemExit, match="not ready in time"):
        init_script.wait_ready("http://gw:8080", deadline=0.0)


def test_script_names_a_missing_variable(init_script: ModuleType, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("CITYOS_GATEWAY_URL", raising=False)
    with pytest.raises(SystemExit, match="CITYOS_GATEWAY_URL is not set"):
        init_script.main()


def test_script_refuses_a_non_http_url(init_script: ModuleType, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("CITYOS_GATEWAY_URL", "file:///etc/passwd")
    monkeypatch.setenv("CITYOS_INIT_TENANT", "hokkaido")
    with pytest.raises(SystemExit, match="must be an http"):
        init_script.main()
