"""The management API over HTTP (`/admin/v1`): tenants, users, clients, API keys, policies, public types,
sharing grants, consents and signing keys, each mapped to one identity RPC with the caller's own token.

Bodies and replies are the proto messages in their JSON form (lowerCamelCase field names). The identity
service authorises every call by role; the gateway only makes sure a bearer token is present.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import TYPE_CHECKING, Any, TypeVar
from urllib.parse import quote

import grpc
import orjson
from cityos.broker.v1 import broker_pb2 as bpb
from cityos.identity.v1 import identity_pb2 as ipb
from cityos_runtime.metadata import REQUEST_ID, TENANT
from cityos_runtime.problems import ProblemError, problem_from_rpc_error
from google.protobuf import json_format
from google.protobuf.message import Message

from cityos_gateway.auth import Principal, forbidden, unauthorized
from cityos_gateway.http import CONTENT_TYPE, JSON, Request, Response
from cityos_gateway.router import Handler

if TYPE_CHECKING:
    from cityos.broker.v1.broker_pb2_grpc import BrokerAsyncStub
    from cityos.identity.v1.identity_pb2_grpc import IdentityAsyncStub

ADMIN_BASE = "/admin/v1"
TenantChanged = Callable[[str], None]
_LOCATION = b"location"


M = TypeVar("M", bound=Message)


def _body(request: Request, message: M) -> M:
    """Parse the JSON body into `message` (400 on anything that is not its JSON form)."""
    if request.body.strip():
        try:
            json_format.ParseDict(orjson.loads(request.body), message)
        except (orjson.JSONDecodeError, json_format.ParseError, TypeError) as error:
            raise ProblemError(
                "BadRequestData", f"the body is not a valid {message.DESCRIPTOR.name}: {error}"
            ) from error
    return message


def _reply(message: Message, status: int = 200, location: str = "") -> Response:
    body = orjson.dumps(json_format.MessageToDict(message, always_print_fields_with_no_presence=True))
    headers = [(CONTENT_TYPE, JSON)]
    if location:
        headers.append((_LOCATION, location.encode()))
    return Response(status, body, headers)


def _flag(request: Request, name: str) -> bool:
    return request.query.get(name, "false").lower() == "true"


class AdminRoutes:
    """`/admin/v1/...` routes; `tenant_changed(tenant)` drops this replica's cached policies of a tenant."""

    def __init__(
        self,
        identity: IdentityAsyncStub,
        broker: BrokerAsyncStub,
        timeout: float,
        tenant_changed: TenantChanged,
    ) -> None:
        self._id = identity
        self._broker = broker
        self._timeout = timeout
        self._changed = tenant_changed

    def routes(self) -> dict[str, dict[str, Handler]]:
        """Path templates (absolute) and handlers."""
        r = self._rpc
        return {
            "/tenants": {
                "GET": r(
                    "ListTenants",
                    lambda q: ipb.ListTenantsRequest(
                        parent=q.query.get("parent", ""), include_deleted=_flag(q, "includeDeleted")
                    ),
                ),
                "POST": self.create_tenant,
            },
            "/tenants/{name}": {
                "GET": r("GetTenant", lambda q: ipb.GetTenantRequest(name=q.path_params[0])),
                "DELETE": self.delete_tenant,
            },
            "/tenants/{name}/suspend": {"POST": r("SuspendTenant", _tenant_name, changes=True)},
            "/tenants/{name}/resume": {"POST": r("ResumeTenant", _tenant_name, changes=True)},
            "/tenants/{name}/users": {
                "GET": r("ListUsers", lambda q: ipb.ListUsersRequest(tenant=q.path_params[0])),
                "POST": r("CreateUser", lambda q: _body(q, ipb.CreateUserRequest()), status=201),
            },
            "/users/{id}": {
                "GET": r("GetUser", lambda q: ipb.GetUserRequest(id=q.path_params[0])),
                "DELETE": r("DeleteUser", lambda q: ipb.DeleteUserRequest(id=q.path_params[0])),
            },
            "/users/{id}/roles/{tenant}": {"PUT": r("SetUserRoles", _user_roles)},
            "/users/{id}/password": {"PUT": r("SetUserPassword", _user_password)},
            "/users/{id}/disabled": {"PUT": r("SetUserDisabled", _user_disabled)},
            "/tenants/{name}/clients": {
                "GET": r("ListClients", lambda q: ipb.ListClientsRequest(tenant=q.path_params[0])),
                "POST": r("CreateClient", _create_client, status=201),
            },
            "/clients/{id}": {
                "GET": r("GetClient", lambda q: ipb.GetClientRequest(client_id=q.path_params[0])),
                "DELETE": r("DeleteClient", lambda q: ipb.DeleteClientRequest(client_id=q.path_params[0])),
            },
            "/tenants/{name}/api-keys": {
                "GET": r("ListApiKeys", lambda q: ipb.ListApiKeysRequest(tenant=q.path_params[0])),
                "POST": r("CreateApiKey", _create_api_key, status=201),
            },
            "/tenants/{name}/api-keys/{keyId}": {
                "DELETE": r(
                    "RevokeApiKey",
                    lambda q: ipb.RevokeApiKeyRequest(tenant=q.path_params[0], key_id=q.path_params[1]),
                )
            },
            "/tenants/{name}/policies": {
                "GET": r(
                    "ListEntityPolicies", lambda q: ipb.ListEntityPoliciesRequest(tenant=q.path_params[0])
                )
            },
            "/tenants/{name}/policies/{clientId}/{policy}": {
                "PUT": r("PutEntityPolicy", _put_policy, changes=True),
                "DELETE": r(
                    "DeleteEntityPolicy",
                    lambda q: ipb.DeleteEntityPolicyRequest(
                        tenant=q.path_params[0], client_id=q.path_params[1], name=q.path_params[2]
                    ),
                    changes=True,
                ),
            },
            "/tenants/{name}/public-types": {"PUT": r("SetPublicTypes", _public_types, changes=True)},
            "/tenants/{name}/sharing-grants": {
                "GET": r("ListSharingGrants", lambda q: ipb.ListSharingGrantsRequest(owner=q.path_params[0]))
            },
            "/tenants/{name}/sharing-grants/{grantee}": {
                "PUT": r("PutSharingGrant", _put_grant, changes=True),
                "DELETE": r(
                    "DeleteSharingGrant",
                    lambda q: ipb.DeleteSharingGrantRequest(owner=q.path_params[0], grantee=q.path_params[1]),
                    changes=True,
                ),
            },
            "/consents": {
                "GET": r("ListConsents", _list_consents),
                "POST": r("RecordConsent", lambda q: _body(q, ipb.RecordConsentRequest()), status=201),
            },
            "/consents/{id}/withdraw": {
                "POST": r(
                    "WithdrawConsent",
                    lambda q: ipb.WithdrawConsentRequest(
                        id=q.path_params[0], subject=q.query.get("subject", "")
                    ),
                )
            },
            "/consent-audit": {
                "GET": r(
                    "ListConsentAudit",
                    lambda q: ipb.ListConsentAuditRequest(
                        after=q.query.get("after", ""),
                        subject=q.query.get("subject", ""),
                        limit=_int(q, "limit"),
                    ),
                )
            },
            "/signing-keys/rotate": {"POST": r("RotateSigningKey", lambda q: ipb.RotateSigningKeyRequest())},
        }

    def _rpc(
        self, name: str, build: Callable[[Request], Message], *, status: int = 200, changes: bool = False
    ) -> Handler:
        """A handler that calls identity RPC `name` with the message `build` makes."""

        async def handle(request: Request) -> Response:
            message = build(request)
            reply = await self._call(name, message, request)
            if changes and request.path_params:
                self._changed(request.path_params[0])
            return _reply(reply, status)

        return handle

    async def _call(self, name: str, message: Message, request: Request) -> Any:
        method: Callable[..., Awaitable[Any]] = getattr(self._id, name)
        return await method(message, metadata=_metadata(request), timeout=self._timeout)

    async def create_tenant(self, request: Request) -> Response:
        """POST /tenants: 201 with the tenant and its Location. Identity creates the tenant, then the broker
        learns it; when the broker step failed, repeating the POST finishes it (and answers 409)."""
        # The body is the Tenant ({"name", "parent", "displayName"}) or a CreateTenantRequest.
        if b'"tenant"' in request.body:
            message = _body(request, ipb.CreateTenantRequest())
        else:
            message = ipb.CreateTenantRequest(tenant=_body(request, ipb.Tenant()))
        try:
            reply = await self._call("CreateTenant", message, request)
        except grpc.aio.AioRpcError as error:
            if error.code() == grpc.StatusCode.ALREADY_EXISTS:
                await self._finish_half_created(message.tenant.name, request)
            raise
        self._changed(reply.name)
        await self._ensure_broker_tenant(reply.name, request)
        return _reply(reply, 201, f"{ADMIN_BASE}/tenants/{quote(reply.name, safe='')}")

    async def _ensure_broker_tenant(self, name: str, request: Request) -> None:
        """The broker knows the tenant at once, so reads answer [] rather than NonexistentTenant."""
        await self._broker_step(
            "EnsureTenant",
            name,
            request,
            f"tenant {name!r} is created but the broker did not confirm it ({{code}}); "
            "repeat the POST to finish",
        )

    async def _broker_step(self, rpc: str, name: str, request: Request, failure: str) -> None:
        """The broker's half of a tenant change; a failure is a 503 telling the caller how to finish it
        (`failure` names the gRPC code as `{code}`)."""
        method: Callable[..., Awaitable[Any]] = getattr(self._broker, rpc)
        try:
            await method(
                bpb.TenantRequest(tenant=name), metadata=self._broker_md(name, request), timeout=self._timeout
            )
        except grpc.aio.AioRpcError as error:
            detail = failure.format(code=error.code().name)
            raise ProblemError("InternalError", detail, status=503) from error

    async def _finish_half_created(self, name: str, request: Request) -> None:
        """A repeated POST of an existing, active tenant makes sure the broker knows it too (idempotent):
        an earlier POST may have stopped between identity and the broker."""
        try:
            tenant = await self._call("GetTenant", ipb.GetTenantRequest(name=name), request)
        except grpc.aio.AioRpcError:
            return  # not visible to this caller: the plain 409 stands
        if tenant.state == "active":
            await self._ensure_broker_tenant(tenant.name, request)

    async def delete_tenant(self, request: Request) -> Response:
        """DELETE /tenants/{name}: identity marks it deleted and purges its principals, then the broker
        purges its data. A purge that fails can be retried with the same DELETE (platform admins)."""
        name = request.path_params[0]
        try:
            tenant = await self._call("DeleteTenant", ipb.TenantNameRequest(name=name), request)
        except grpc.aio.AioRpcError as error:
            tenant = await self._already_deleted(name, request, error)
        self._changed(name)
        await self._broker_step(
            "PurgeTenant",
            name,
            request,
            f"tenant {name!r} is deleted but purging its data failed ({{code}}); "
            "repeat the DELETE to retry the purge",
        )
        return _reply(tenant)

    @staticmethod
    def _broker_md(tenant: str, request: Request) -> tuple[tuple[str, str], ...]:
        return ((TENANT, tenant), (REQUEST_ID, request.request_id))

    async def _already_deleted(self, name: str, request: Request, error: grpc.aio.AioRpcError) -> Any:
        """On a retried DELETE (the identity part done, the purge failed) go on with the purge."""
        principal: Principal = request.state["principal"]
        if principal.platform_admin:
            try:
                tenant = await self._call("GetTenant", ipb.GetTenantRequest(name=name), request)
            except grpc.aio.AioRpcError:
                raise problem_from_rpc_error(error) from error
            if tenant.state == "deleted":
                return tenant
        raise problem_from_rpc_error(error) from error


def check_admin_caller(principal: Principal, template: str) -> None:
    """A bearer token is required (it is forwarded); the `admin` scope too, except for consent records."""
    if not principal.token:
        raise unauthorized("the management API needs an access token (Authorization: Bearer)", error="")
    if not template.startswith(ADMIN_BASE + "/consents") and not principal.has_scope("admin"):
        raise forbidden("the management API needs the 'admin' scope", scope="admin")


def _metadata(request: Request) -> tuple[tuple[str, str], ...]:
    principal: Principal = request.state["principal"]
    return (("authorization", f"Bearer {principal.token}"), (REQUEST_ID, request.request_id))


def _tenant_name(request: Request) -> Message:
    return ipb.TenantNameRequest(name=request.path_params[0])


def _int(request: Request, name: str) -> int:
    try:
        return int(request.query.get(name, "0"))
    except ValueError as error:
        raise ProblemError("BadRequestData", f"{name} must be an integer") from error


def _user_roles(request: Request) -> Message:
    message = _body(request, ipb.SetUserRolesRequest())
    message.id, message.tenant = request.path_params
    return message


def _user_password(request: Request) -> Message:
    message = _body(request, ipb.SetUserPasswordRequest())
    message.id = request.path_params[0]
    return message


def _user_disabled(request: Request) -> Message:
    message = _body(request, ipb.SetUserDisabledRequest())
    message.id = request.path_params[0]
    return message


def _create_client(request: Request) -> Message:
    client = _body(request, ipb.Client())
    client.tenant = request.path_params[0]
    return ipb.CreateClientRequest(client=client)


def _create_api_key(request: Request) -> Message:
    message = _body(request, ipb.CreateApiKeyRequest())
    message.tenant = request.path_params[0]
    return message


def _put_policy(request: Request) -> Message:
    policy = _body(request, ipb.EntityPolicy())
    tenant, client_id, name = request.path_params
    policy.tenant, policy.client_id, policy.name = tenant, client_id, name
    return ipb.PutEntityPolicyRequest(policy=policy)


def _public_types(request: Request) -> Message:
    message = _body(request, ipb.SetPublicTypesRequest())
    message.tenant = request.path_params[0]
    return message


def _put_grant(request: Request) -> Message:
    grant = _body(request, ipb.SharingGrant())
    grant.owner, grant.grantee = request.path_params
    return ipb.PutSharingGrantRequest(grant=grant)


def _list_consents(request: Request) -> Message:
    q = request.query
    return ipb.ListConsentsRequest(
        subject=q.get("subject", ""),
        client_id=q.get("clientId", ""),
        data_category=q.get("dataCategory", ""),
        granted_only=_flag(request, "grantedOnly"),
    )
