"""The OAuth endpoints forwarded as they are, and the management API mapped onto identity RPCs."""

from __future__ import annotations

from typing import Any

import grpc
import httpx
import orjson
from cityos.identity.v1 import identity_pb2 as ipb
from cityos_gateway.app import create_app


class Recorder:
    """Records identity calls not served by the FakeIdentity and answers from `replies`."""

    def __init__(self, identity: Any) -> None:
        self.identity = identity
        self.calls: list[tuple[str, Any, dict[str, str]]] = []
        self.replies: dict[str, Any] = {}

    def install(self, *names: str) -> None:
        for name in names:
            setattr(self.identity, name, self._make(name))

    def _make(self, name: str) -> Any:
        async def call(request: Any, *, metadata: Any = (), timeout: float | None = None) -> Any:
            self.calls.append((name, request, dict(metadata)))
            reply = self.replies[name]
            if isinstance(reply, BaseException):
                raise reply
            return reply

        return call


async def test_oauth_requests_are_forwarded_verbatim(oidc: httpx.AsyncClient, identity: Any) -> None:
    recorder = Recorder(identity)
    recorder.install("HandleOAuthRequest")
    recorder.replies["HandleOAuthRequest"] = ipb.HttpResponse(
        status=302,
        headers=[
            ipb.HttpHeader(name="Location", value="https://app.example/cb?code=abc"),
            ipb.HttpHeader(name="Set-Cookie", value="cityos_session=s1; Path=/oauth2; HttpOnly"),
            ipb.HttpHeader(name="Set-Cookie", value="cityos_csrf=c1; Path=/oauth2; HttpOnly"),
        ],
        body=b"",
    )
    response = await oidc.post(
        "/oauth2/authorize?client_id=x&state=1",
        content=b"username=u&password=p",
        headers={"Content-Type": "application/x-www-form-urlencoded", "Cookie": "cityos_csrf=c0"},
    )
    assert response.status_code == 302
    assert response.headers["location"] == "https://app.example/cb?code=abc"
    assert response.headers.get_list("set-cookie") == [
        "cityos_session=s1; Path=/oauth2; HttpOnly",
        "cityos_csrf=c1; Path=/oauth2; HttpOnly",
    ]
    _, request, _ = recorder.calls[0]
    assert (request.method, request.path, request.query) == (
        "POST",
        "/oauth2/authorize",
        "client_id=x&state=1",
    )
    assert request.body == b"username=u&password=p"
    sent = {h.name: h.value for h in request.headers}
    assert sent["cookie"] == "cityos_csrf=c0" and "host" not in sent
    assert request.client_ip == "127.0.0.1"
    for path in ("/.well-known/openid-configuration", "/oauth2/token", "/oauth2/jwks", "/oauth2/revoke"):
        recorder.replies["HandleOAuthRequest"] = ipb.HttpResponse(status=200, body=b"{}")
        assert (await oidc.get(path)).status_code in (200, 405), path


async def test_management_calls_forward_the_callers_token(
    oidc: httpx.AsyncClient, identity: Any, mint: Any
) -> None:
    recorder = Recorder(identity)
    recorder.install("CreateTenant", "PutEntityPolicy")
    recorder.replies["CreateTenant"] = ipb.Tenant(name="otaru", parent="hokkaido", state="active")
    recorder.replies["PutEntityPolicy"] = ipb.EntityPolicy(
        tenant="otaru", client_id="otaru.app", name="gauges"
    )
    token = mint(scope="admin", roles=["platform-admin"])
    created = await oidc.post(
        "/admin/v1/tenants",
        json={"name": "otaru", "parent": "hokkaido"},
        headers={"Authorization": f"Bearer {token}"},
    )
    assert created.status_code == 201, created.text
    assert created.headers["location"] == "/admin/v1/tenants/otaru"
    assert created.json()["parent"] == "hokkaido"
    _, request, metadata = recorder.calls[0]
    assert request.tenant.name == "otaru" and metadata["authorization"] == f"Bearer {token}"
    policy = await oidc.put(
        "/admin/v1/tenants/otaru/policies/otaru.app/gauges",
        json={"entityTypes": ["Gauge"], "read": True},
        headers={"Authorization": f"Bearer {token}"},
    )
    assert policy.status_code == 200, policy.text
    sent = recorder.calls[1][1].policy
    assert (sent.tenant, sent.client_id, sent.name, list(sent.entity_types)) == (
        "otaru",
        "otaru.app",
        "gauges",
        ["Gauge"],
    )
    bad = await oidc.put(
        "/admin/v1/tenants/otaru/public-types", json={"nope": 1}, headers={"Authorization": f"Bearer {token}"}
    )
    assert bad.status_code == 400


async def test_management_needs_a_bearer_token_with_the_admin_scope(
    oidc: httpx.AsyncClient, mint: Any
) -> None:
    assert (await oidc.get("/admin/v1/tenants")).status_code == 401
    refused = await oidc.get("/admin/v1/tenants", headers={"Authorization": f"Bearer {mint()}"})
    assert refused.status_code == 403
    assert (
        refused.headers["www-authenticate"]
        == 'Bearer realm="cityos", error="insufficient_scope", scope="admin"'
    )


async def test_deleting_a_tenant_purges_the_broker_and_can_be_retried(
    oidc: httpx.AsyncClient, identity: Any, broker: Any, mint: Any, make_rpc_error: Any
) -> None:
    recorder = Recorder(identity)
    recorder.install("DeleteTenant", "GetTenant")
    recorder.replies["DeleteTenant"] = ipb.Tenant(name="otaru", state="deleted")
    token = mint(scope="admin", roles=["platform-admin"])
    broker.replies["PurgeTenant"] = make_rpc_error(grpc.StatusCode.UNAVAILABLE)
    failed = await oidc.delete("/admin/v1/tenants/otaru", headers={"Authorization": f"Bearer {token}"})
    assert failed.status_code == 503 and "repeat the DELETE" in failed.json()["detail"]
    # The retry: identity answers that the tenant is already deleted; the purge runs again and succeeds.
    recorder.replies["DeleteTenant"] = make_rpc_error(grpc.StatusCode.NOT_FOUND)
    recorder.replies["GetTenant"] = ipb.Tenant(name="otaru", state="deleted")
    del broker.replies["PurgeTenant"]
    retried = await oidc.delete("/admin/v1/tenants/otaru", headers={"Authorization": f"Bearer {token}"})
    assert retried.status_code == 200, retried.text
    assert orjson.loads(retried.content)["state"] == "deleted"
    assert broker.last.rpc == "PurgeTenant" and broker.last.request.tenant == "otaru"


async def test_user_routes_take_ids_from_the_path(oidc: httpx.AsyncClient, identity: Any, mint: Any) -> None:
    recorder = Recorder(identity)
    recorder.install("SetUserRoles", "SetUserDisabled")
    recorder.replies["SetUserRoles"] = recorder.replies["SetUserDisabled"] = ipb.User(id="u-1")
    bearer = {"Authorization": f"Bearer {mint(scope='admin')}"}
    roles = await oidc.put("/admin/v1/users/u-1/roles/otaru", json={"roles": ["developer"]}, headers=bearer)
    disabled = await oidc.put("/admin/v1/users/u-1/disabled", json={"disabled": True}, headers=bearer)
    assert roles.status_code == disabled.status_code == 200
    assert (recorder.calls[0][1].id, recorder.calls[0][1].tenant, list(recorder.calls[0][1].roles)) == (
        "u-1",
        "otaru",
        ["developer"],
    )
    assert recorder.calls[1][1].disabled is True


async def test_open_mode_still_forwards_the_bearer_token_to_identity(
    settings: Any, broker: Any, identity: Any
) -> None:
    recorder = Recorder(identity)
    recorder.install("ListTenants")
    recorder.replies["ListTenants"] = ipb.ListTenantsResponse()
    app = create_app(settings, broker, identity=identity)
    async with httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://gw") as http:
        assert (await http.get("/admin/v1/tenants")).status_code == 401
        listed = await http.get("/admin/v1/tenants", headers={"Authorization": "Bearer tok"})
    assert listed.status_code == 200
    assert recorder.calls[0][2]["authorization"] == "Bearer tok"


async def test_a_tenant_half_created_is_finished_by_repeating_the_post(
    oidc: httpx.AsyncClient, identity: Any, broker: Any, mint: Any, make_rpc_error: Any
) -> None:
    recorder = Recorder(identity)
    recorder.install("CreateTenant", "GetTenant")
    recorder.replies["CreateTenant"] = ipb.Tenant(name="otaru", parent="hokkaido", state="active")
    token = mint(scope="admin", roles=["platform-admin"])
    body = {"name": "Otaru", "parent": "hokkaido"}
    auth = {"Authorization": f"Bearer {token}"}
    broker.replies["EnsureTenant"] = make_rpc_error(grpc.StatusCode.UNAVAILABLE)
    failed = await oidc.post("/admin/v1/tenants", json=body, headers=auth)
    assert failed.status_code == 503, failed.text
    assert "repeat the POST" in failed.json()["detail"]

    # The retry: identity has the tenant already; the broker step runs again, the answer stays 409.
    recorder.replies["CreateTenant"] = make_rpc_error(grpc.StatusCode.ALREADY_EXISTS)
    recorder.replies["GetTenant"] = ipb.Tenant(name="otaru", parent="hokkaido", state="active")
    del broker.replies["EnsureTenant"]
    retried = await oidc.post("/admin/v1/tenants", json=body, headers=auth)
    assert retried.status_code == 409, retried.text
    assert broker.last.rpc == "EnsureTenant" and broker.last.request.tenant == "otaru"
    assert recorder.calls[-1][0] == "GetTenant" and recorder.calls[-1][1].name == "Otaru"


async def test_a_repeated_post_of_a_suspended_tenant_does_not_touch_the_broker(
    oidc: httpx.AsyncClient, identity: Any, broker: Any, mint: Any, make_rpc_error: Any
) -> None:
    recorder = Recorder(identity)
    recorder.install("CreateTenant", "GetTenant")
    recorder.replies["CreateTenant"] = make_rpc_error(grpc.StatusCode.ALREADY_EXISTS)
    recorder.replies["GetTenant"] = ipb.Tenant(name="otaru", state="suspended")
    token = mint(scope="admin", roles=["platform-admin"])
    answer = await oidc.post(
        "/admin/v1/tenants", json={"name": "otaru"}, headers={"Authorization": f"Bearer {token}"}
    )
    assert answer.status_code == 409, answer.text
    assert not [call for call in broker.calls if call.rpc == "EnsureTenant"]
