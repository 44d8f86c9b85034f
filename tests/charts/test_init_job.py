"""The post-install Job and its script (files/init_tenant.py), exercised with fake gRPC stubs (no sockets)."""

from __future__ import annotations

import importlib.util
import sys
from pathlib import Path
from types import ModuleType
from typing import Any

import grpc
import helm_python as helm
import pytest
from cityos.broker.v1 import broker_pb2
from cityos.identity.v1 import identity_pb2 as ipb


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
    assert env["CITYOS_INIT_BROKER_ADDRESS"] == "demo-cityos-broker:50051"
    assert env["CITYOS_INIT_IDENTITY_ADDRESS"] == "demo-cityos-identity:50052"
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


class _Stub:
    """Answers each RPC from a queue of results or errors and records (rpc, request, metadata)."""

    def __init__(self, **answers: list[Any]) -> None:
        self.answers = answers
        self.calls: list[tuple[str, Any, Any]] = []

    def __getattr__(self, rpc: str) -> Any:
        if rpc not in self.answers:
            raise AttributeError(rpc)

        async def call(request: Any, metadata: Any = None, timeout: float | None = None) -> Any:
            self.calls.append((rpc, request, metadata))
            answer = self.answers[rpc].pop(0)
            if isinstance(answer, Exception):
                raise answer
            return answer

        return call


async def _no_sleep(_seconds: float) -> None:
    return None


def _settings(init_script: ModuleType, **overrides: Any) -> Any:
    base = {
        "broker_address": "b:50051",
        "tenant": "hokkaido",
        "wait_seconds": 60.0,
        "identity_address": "i:50052",
        "issuer": "https://api.example.jp",
        "default_tenant": "default",
        "bootstrap_password": "bootstrap-pw",
        "admin_username": "pref-admin",
        "admin_email": "admin@pref.example.jp",
        "admin_password": "pref-admin-pw",
    }
    return init_script.InitSettings(**{**base, **overrides})


async def test_script_retries_while_starting_then_creates_tenant_and_admin(init_script: ModuleType) -> None:
    broker = _Stub(
        EnsureTenant=[
            _error(grpc.StatusCode.UNAVAILABLE),
            broker_pb2.TenantResponse(tenant="hokkaido", exists=True),
        ]
    )
    identity = _Stub(CreateTenant=[ipb.Tenant(name="hokkaido")], CreateUser=[ipb.User(id="u-1")])
    tokens = [_error(grpc.StatusCode.UNAVAILABLE), "tok-1"]

    async def admin_token() -> str:
        answer = tokens.pop(0)
        if isinstance(answer, Exception):
            raise answer
        return answer

    done = await init_script.run(_settings(init_script), broker, identity, admin_token, _no_sleep)
    assert [c[0] for c in broker.calls] == ["EnsureTenant", "EnsureTenant"]
    assert broker.calls[-1][1].tenant == "hokkaido"
    assert [c[0] for c in identity.calls] == ["CreateTenant", "CreateUser"]
    _, tenant_request, metadata = identity.calls[0]
    assert metadata == (("authorization", "Bearer tok-1"),)
    assert (tenant_request.tenant.name, tenant_request.tenant.parent) == ("hokkaido", ""), "a prefecture"
    _, user, metadata = identity.calls[1]
    assert metadata == (("authorization", "Bearer tok-1"),)
    assert (user.username, user.password, user.email) == (
        "pref-admin",
        "pref-admin-pw",
        "admin@pref.example.jp",
    )
    assert [(m.tenant, list(m.roles)) for m in user.memberships] == [("hokkaido", ["tenant-admin"])]
    assert not user.platform_admin
    assert done == [
        "broker tenant 'hokkaido' present",
        "identity tenant 'hokkaido' created",
        "administrator 'pref-admin' of 'hokkaido' created",
    ]


async def test_script_is_idempotent(init_script: ModuleType) -> None:
    broker = _Stub(EnsureTenant=[broker_pb2.TenantResponse(tenant="hokkaido", exists=True)])
    exists = grpc.StatusCode.ALREADY_EXISTS
    identity = _Stub(CreateTenant=[_error(exists)], CreateUser=[_error(exists)])

    async def admin_token() -> str:
        return "tok"

    done = await init_script.run(_settings(init_script), broker, identity, admin_token, _no_sleep)
    assert done[1:] == [
        "identity tenant 'hokkaido' existed already",
        "administrator 'pref-admin' of 'hokkaido' existed already (left unchanged)",
    ]


@pytest.mark.parametrize("code", [grpc.StatusCode.PERMISSION_DENIED, grpc.StatusCode.INVALID_ARGUMENT])
async def test_script_fails_on_a_real_error(init_script: ModuleType, code: grpc.StatusCode) -> None:
    broker = _Stub(EnsureTenant=[broker_pb2.TenantResponse(tenant="hokkaido", exists=True)])
    identity = _Stub(CreateTenant=[_error(code)])

    async def admin_token() -> str:
        return "tok"

    with pytest.raises(grpc.aio.AioRpcError) as caught:
        await init_script.run(_settings(init_script), broker, identity, admin_token, _no_sleep)
    assert caught.value.code() == code


async def test_script_without_identity_or_admin(init_script: ModuleType) -> None:
    broker = _Stub(EnsureTenant=[broker_pb2.TenantResponse(tenant="hokkaido", exists=True)])

    async def admin_token() -> str:
        raise AssertionError("no sign-in without identity")

    settings = _settings(init_script, identity_address="", admin_username="")
    done = await init_script.run(settings, broker, None, admin_token, _no_sleep)
    assert done[-1] == "identity is disabled: no identity tenant and no administrator"
    identity = _Stub(CreateTenant=[ipb.Tenant(name="hokkaido")])
    broker = _Stub(EnsureTenant=[broker_pb2.TenantResponse(tenant="hokkaido", exists=True)])

    async def token() -> str:
        return "tok"

    done = await init_script.run(
        _settings(init_script, admin_username=""), broker, identity, token, _no_sleep
    )
    assert [c[0] for c in identity.calls] == ["CreateTenant"]
    assert done[-1] == "no administrator requested (initJob.adminUsername is empty)"


async def test_script_gives_up_after_the_deadline(init_script: ModuleType) -> None:
    broker = _Stub(EnsureTenant=[_error(grpc.StatusCode.UNAVAILABLE)] * 3)
    with pytest.raises(SystemExit, match="still UNAVAILABLE after the wait"):
        await init_script.run(_settings(init_script, wait_seconds=-1.0), broker, None, None, _no_sleep)


def test_settings_name_a_missing_variable(init_script: ModuleType) -> None:
    with pytest.raises(SystemExit, match="CITYOS_INIT_BROKER_ADDRESS is not set"):
        init_script.InitSettings.from_env({})
    base = {
        "CITYOS_INIT_BROKER_ADDRESS": "b:1",
        "CITYOS_INIT_TENANT": "t",
        "CITYOS_INIT_IDENTITY_ADDRESS": "i:2",
    }
    with pytest.raises(SystemExit, match="IDENTITY_ISSUER is not set"):
        init_script.InitSettings.from_env(base)
    full = {**base, "IDENTITY_ISSUER": "https://x/", "CITYOS_DEFAULT_TENANT": "default"}
    with pytest.raises(SystemExit, match="IDENTITY_BOOTSTRAP_ADMIN_PASSWORD is not set"):
        init_script.InitSettings.from_env(full)
    full["IDENTITY_BOOTSTRAP_ADMIN_PASSWORD"] = "pw"
    with pytest.raises(SystemExit, match="CITYOS_INIT_ADMIN_PASSWORD is not set"):
        init_script.InitSettings.from_env({**full, "CITYOS_INIT_ADMIN_USERNAME": "a"})
    settings = init_script.InitSettings.from_env(full)
    assert (settings.issuer, settings.admin_username, settings.wait_seconds) == ("https://x", "", 300.0)
    with pytest.raises(SystemExit, match="needs CITYOS_INIT_IDENTITY_ADDRESS"):
        init_script.InitSettings.from_env(
            {
                "CITYOS_INIT_BROKER_ADDRESS": "b:1",
                "CITYOS_INIT_TENANT": "t",
                "CITYOS_INIT_ADMIN_USERNAME": "a",
            }
        )
