"""The post-install Job and its script (files/init_tenant.py), run with a fake urlopen and fake stubs."""

from __future__ import annotations

import importlib.util
import io
import json
import re
import sys
import time
import urllib.error
import urllib.request
from pathlib import Path
from types import ModuleType
from typing import Any

import grpc
import helm_python as helm
import pytest
from cityos.broker.v1 import broker_pb2


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


def _job_env(result: Any) -> dict[str, Any]:
    container = result.get("Job", "demo-cityos-init")["spec"]["template"]["spec"]["containers"][0]
    return {e["name"]: e.get("value", e.get("valueFrom")) for e in container["env"]}


def test_job_is_a_post_install_hook_running_the_script(rendered: dict[str, Any], chart_dir: Path) -> None:
    result = rendered["minimal"]
    job = result.get("Job", "demo-cityos-init")
    assert job["metadata"]["annotations"]["helm.sh/hook"] == "post-install"
    container = job["spec"]["template"]["spec"]["containers"][0]
    assert container["command"] == ["python", "/scripts/init_tenant.py"]
    assert container["image"] == "ghcr.io/cityos/cityos-identity:0.1.0", "the image with the sign-in client"
    env = _job_env(result)
    assert env["CITYOS_INIT_GATEWAY_URL"] == "http://demo-cityos-gateway:8080"
    assert env["CITYOS_INIT_IDENTITY_ADDRESS"] == "demo-cityos-identity:50052"
    assert "CITYOS_INIT_BROKER_ADDRESS" not in env, "with identity the tenant is made through the gateway"
    assert env["CITYOS_INIT_TENANT"] == "prefecture"
    assert env["IDENTITY_ISSUER"] == "https://cityos.pref.example.jp"
    assert env["CITYOS_DEFAULT_TENANT"] == "default"
    assert env["IDENTITY_BOOTSTRAP_ADMIN_PASSWORD"] == {
        "secretKeyRef": {"name": "cityos-identity", "key": "bootstrap-admin-password"}
    }
    assert "CITYOS_INIT_ADMIN_USERNAME" not in env, "no administrator unless initJob.adminUsername is set"
    script = result.get("ConfigMap", "demo-cityos-init")["data"]["init_tenant.py"]
    assert script == (chart_dir / "files" / "init_tenant.py").read_text()


def test_job_creates_the_admin_with_a_secret_password(rendered: dict[str, Any]) -> None:
    env = _job_env(rendered["bundled"])
    assert (env["CITYOS_INIT_ADMIN_USERNAME"], env["CITYOS_INIT_ADMIN_EMAIL"]) == (
        "pref-admin",
        "admin@pref.example.jp",
    )
    assert env["CITYOS_INIT_ADMIN_PASSWORD"] == {
        "secretKeyRef": {"name": "demo-cityos-identity", "key": "tenant-admin-password"}
    }
    assert env["IDENTITY_ISSUER"] == "https://cityos.localtest.me"


def test_job_without_identity_only_ensures_the_broker_tenant(render: Any, values_of: Any) -> None:
    values = values_of("minimal")
    values["services"] = {"identity": {"enabled": False}}
    values["config"]["gateway"] = {"authMode": "open"}
    result = render(values)
    container = result.get("Job", "demo-cityos-init")["spec"]["template"]["spec"]["containers"][0]
    assert container["image"] == "ghcr.io/cityos/cityos-broker:0.1.0"
    env = _job_env(result)
    assert env["CITYOS_INIT_BROKER_ADDRESS"] == "demo-cityos-broker:50051"
    assert "CITYOS_INIT_IDENTITY_ADDRESS" not in env and "IDENTITY_BOOTSTRAP_ADMIN_PASSWORD" not in env
    values["initJob"] = {"adminUsername": "pref-admin"}
    with pytest.raises(helm.HelmError, match=r"initJob\.adminUsername needs services\.identity\.enabled"):
        render(values)


def test_job_runs_on_upgrade_only_when_asked(render: Any, values_of: Any) -> None:
    values = values_of("minimal")
    values["initJob"] = {"runOnUpgrade": True}
    job = render(values).get("Job", "demo-cityos-init")
    assert job["metadata"]["annotations"]["helm.sh/hook"] == "post-install,post-upgrade"


def test_job_can_be_disabled(render: Any, values_of: Any) -> None:
    values = values_of("minimal")
    values["initJob"] = {"enabled": False}
    result = render(values)
    assert not result.of_kind("Job")
    assert not result.component("init")


def _error(code: grpc.StatusCode) -> grpc.aio.AioRpcError:
    return grpc.aio.AioRpcError(code, grpc.aio.Metadata(), grpc.aio.Metadata(), details=code.name.lower())


async def _no_sleep(_seconds: float) -> None:
    return None


def _settings(init_script: ModuleType, **overrides: Any) -> Any:
    base = {
        "tenant": "hokkaido",
        "wait_seconds": 60.0,
        "gateway_url": "http://gw:8080",
        "identity_address": "i:50052",
        "issuer": "https://api.example.jp",
        "default_tenant": "default",
        "bootstrap_password": "bootstrap-pw",
        "admin_username": "pref-admin",
        "admin_email": "admin@pref.example.jp",
        "admin_password": "pref-admin-pw",
    }
    return init_script.InitSettings(**{**base, **overrides})


class _Response(io.BytesIO):
    def __init__(self, status: int, body: bytes = b"") -> None:
        super().__init__(body)
        self.status = status


class _Gateway:
    """A fake urlopen: answers from a queue per (method, path) and records every request."""

    def __init__(self, answers: dict[tuple[str, str], list[Any]]) -> None:
        self.answers = answers
        self.calls: list[urllib.request.Request] = []

    def __call__(self, request: urllib.request.Request, timeout: float) -> _Response:
        self.calls.append(request)
        path = request.full_url.removeprefix("http://gw:8080")
        answer = self.answers[(request.get_method(), path)].pop(0)
        if isinstance(answer, Exception):
            raise answer
        status, body = answer
        if status >= 400:
            raise urllib.error.HTTPError(request.full_url, status, "error", {}, io.BytesIO(body))  # type: ignore[arg-type]
        return _Response(status, body)


def _install(init_script: ModuleType, monkeypatch: pytest.MonkeyPatch, gateway: _Gateway) -> None:
    monkeypatch.setattr(init_script.urllib.request, "urlopen", gateway)
    monkeypatch.setattr(init_script.time, "sleep", lambda _s: None)


def test_provision_waits_then_creates_tenant_and_admin(
    init_script: ModuleType, monkeypatch: pytest.MonkeyPatch
) -> None:
    gateway = _Gateway(
        {
            ("GET", "/readyz"): [ConnectionRefusedError("starting"), (503, b""), (200, b"")],
            ("POST", "/admin/v1/tenants"): [(201, b'{"name": "hokkaido"}')],
            ("POST", "/admin/v1/tenants/hokkaido/users"): [(201, b'{"id": "u-1"}')],
            ("GET", "/ngsi-ld/v1/types"): [(200, b"[]")],
        }
    )
    _install(init_script, monkeypatch, gateway)
    done = init_script.provision(_settings(init_script), "tok-1", time.monotonic() + 60)
    assert [(c.get_method(), c.full_url) for c in gateway.calls] == [
        ("GET", "http://gw:8080/readyz"),
        ("GET", "http://gw:8080/readyz"),
        ("GET", "http://gw:8080/readyz"),
        ("POST", "http://gw:8080/admin/v1/tenants"),
        ("POST", "http://gw:8080/admin/v1/tenants/hokkaido/users"),
        ("GET", "http://gw:8080/ngsi-ld/v1/types"),
    ]
    for call in gateway.calls[3:]:
        assert call.get_header("Authorization") == "Bearer tok-1"
    assert json.loads(gateway.calls[3].data or b"") == {"name": "hokkaido", "displayName": "hokkaido"}
    user = json.loads(gateway.calls[4].data or b"")
    assert (user["username"], user["password"], user["email"]) == (
        "pref-admin",
        "pref-admin-pw",
        "admin@pref.example.jp",
    )
    assert user["memberships"] == [{"tenant": "hokkaido", "roles": ["tenant-admin"]}]
    assert "platformAdmin" not in user
    assert gateway.calls[5].get_header("Ngsild-tenant") == "hokkaido"
    assert done == [
        "tenant 'hokkaido' created",
        "administrator 'pref-admin' created",
        "tenant 'hokkaido' answers through the gateway",
    ]


def test_provision_is_idempotent(init_script: ModuleType, monkeypatch: pytest.MonkeyPatch) -> None:
    exists = (409, b'{"type": "https://uri.etsi.org/ngsi-ld/errors/AlreadyExists", "detail": "taken"}')
    gateway = _Gateway(
        {
            ("GET", "/readyz"): [(200, b"")],
            ("POST", "/admin/v1/tenants"): [exists],
            ("POST", "/admin/v1/tenants/hokkaido/users"): [exists],
            ("GET", "/ngsi-ld/v1/types"): [(200, b"[]")],
        }
    )
    _install(init_script, monkeypatch, gateway)
    done = init_script.provision(_settings(init_script), "tok", time.monotonic() + 60)
    assert done[:2] == [
        "tenant 'hokkaido' existed already (left unchanged)",
        "administrator 'pref-admin' existed already (left unchanged)",
    ]


@pytest.mark.parametrize(
    ("step", "status", "message"),
    [
        ("/admin/v1/tenants", 403, "creating tenant 'hokkaido' failed with HTTP 403: needs the admin scope"),
        ("/admin/v1/tenants/hokkaido/users", 400, "HTTP 400: needs the admin scope"),
        ("/ngsi-ld/v1/types", 404, "does not answer through the gateway: HTTP 404: needs the admin scope"),
    ],
)
def test_provision_stops_on_a_real_error(
    init_script: ModuleType, monkeypatch: pytest.MonkeyPatch, step: str, status: int, message: str
) -> None:
    ok = {"/admin/v1/tenants": 201, "/admin/v1/tenants/hokkaido/users": 201, "/ngsi-ld/v1/types": 200}
    problem = json.dumps({"title": "Forbidden", "detail": "needs the admin scope"}).encode()
    answers: dict[tuple[str, str], list[Any]] = {("GET", "/readyz"): [(200, b"")]}
    for path, good in ok.items():
        method = "GET" if path.startswith("/ngsi-ld") else "POST"
        answers[(method, path)] = [(status, problem) if path == step else (good, b"{}")]
    _install(init_script, monkeypatch, _Gateway(answers))
    with pytest.raises(SystemExit, match=re.escape(message)):
        init_script.provision(_settings(init_script), "tok", time.monotonic() + 60)


def test_provision_without_admin(init_script: ModuleType, monkeypatch: pytest.MonkeyPatch) -> None:
    gateway = _Gateway(
        {
            ("GET", "/readyz"): [(200, b"")],
            ("POST", "/admin/v1/tenants"): [(201, b"{}")],
            ("GET", "/ngsi-ld/v1/types"): [(200, b"[]")],
        }
    )
    _install(init_script, monkeypatch, gateway)
    done = init_script.provision(_settings(init_script, admin_username=""), "tok", time.monotonic() + 60)
    assert done[1] == "no administrator requested (initJob.adminUsername is empty)"
    assert len(gateway.calls) == 3


def test_gateway_wait_gives_up_after_the_deadline(
    init_script: ModuleType, monkeypatch: pytest.MonkeyPatch
) -> None:
    _install(init_script, monkeypatch, _Gateway({("GET", "/readyz"): [ConnectionRefusedError("down")] * 3}))
    with pytest.raises(SystemExit, match="not ready in time"):
        init_script.wait_ready("http://gw:8080", deadline=0.0)


async def test_retrying_waits_for_a_starting_service(init_script: ModuleType) -> None:
    answers: list[Any] = [
        _error(grpc.StatusCode.UNAVAILABLE),
        _error(grpc.StatusCode.DEADLINE_EXCEEDED),
        "tok",
    ]

    async def sign_in() -> str:
        answer = answers.pop(0)
        if isinstance(answer, Exception):
            raise answer
        return str(answer)

    assert await init_script.retrying("sign-in", sign_in, time.monotonic() + 60, _no_sleep) == "tok"
    answers[:] = [_error(grpc.StatusCode.PERMISSION_DENIED)]
    with pytest.raises(grpc.aio.AioRpcError):
        await init_script.retrying("sign-in", sign_in, time.monotonic() + 60, _no_sleep)
    answers[:] = [_error(grpc.StatusCode.UNAVAILABLE)]
    with pytest.raises(SystemExit, match="still UNAVAILABLE after the wait"):
        await init_script.retrying("sign-in", sign_in, time.monotonic() - 1, _no_sleep)


async def test_without_identity_the_broker_tenant_is_ensured(init_script: ModuleType) -> None:
    calls: list[Any] = []

    class Broker:
        async def EnsureTenant(self, request: Any, timeout: float) -> Any:
            calls.append(request)
            return broker_pb2.TenantResponse(tenant=request.tenant, exists=True)

    settings = _settings(init_script, identity_address="", gateway_url="", broker_address="b:50051")
    line = await init_script.ensure_broker_tenant(settings, Broker(), time.monotonic() + 60)
    assert line == "broker tenant 'hokkaido' present"
    assert [c.tenant for c in calls] == ["hokkaido"]


def test_settings_name_a_missing_variable(init_script: ModuleType) -> None:
    with pytest.raises(SystemExit, match="CITYOS_INIT_TENANT is not set"):
        init_script.InitSettings.from_env({})
    with pytest.raises(SystemExit, match="CITYOS_INIT_BROKER_ADDRESS is not set"):
        init_script.InitSettings.from_env({"CITYOS_INIT_TENANT": "t"})
    base = {"CITYOS_INIT_TENANT": "t", "CITYOS_INIT_IDENTITY_ADDRESS": "i:2"}
    with pytest.raises(SystemExit, match="CITYOS_INIT_GATEWAY_URL is not set"):
        init_script.InitSettings.from_env(base)
    with pytest.raises(SystemExit, match="must be an http"):
        init_script.InitSettings.from_env({**base, "CITYOS_INIT_GATEWAY_URL": "file:///etc/passwd"})
    base["CITYOS_INIT_GATEWAY_URL"] = "http://gw:8080/"
    with pytest.raises(SystemExit, match="IDENTITY_ISSUER is not set"):
        init_script.InitSettings.from_env(base)
    full = {**base, "IDENTITY_ISSUER": "https://x/", "CITYOS_DEFAULT_TENANT": "default"}
    with pytest.raises(SystemExit, match="IDENTITY_BOOTSTRAP_ADMIN_PASSWORD is not set"):
        init_script.InitSettings.from_env(full)
    full["IDENTITY_BOOTSTRAP_ADMIN_PASSWORD"] = "pw"
    with pytest.raises(SystemExit, match="CITYOS_INIT_ADMIN_PASSWORD is not set"):
        init_script.InitSettings.from_env({**full, "CITYOS_INIT_ADMIN_USERNAME": "a"})
    settings = init_script.InitSettings.from_env(full)
    assert (settings.gateway_url, settings.issuer, settings.admin_username) == (
        "http://gw:8080",
        "https://x",
        "",
    )
    assert settings.wait_seconds == 300.0
    with pytest.raises(SystemExit, match="needs CITYOS_INIT_IDENTITY_ADDRESS"):
        init_script.InitSettings.from_env({"CITYOS_INIT_TENANT": "t", "CITYOS_INIT_ADMIN_USERNAME": "a"})
