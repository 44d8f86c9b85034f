"""Thin gRPC adapter: the caller from the forwarded bearer token, a use case, ProblemError as a status."""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable
from typing import TypeAlias, TypeVar

import grpc
from cityos.identity.v1 import identity_pb2 as pb
from cityos.identity.v1 import identity_pb2_grpc
from cityos_runtime.metadata import metadata_value
from cityos_runtime.problems import ProblemError, abort_with_problem
from opentelemetry import trace

from cityos_identity.caller import Caller
from cityos_identity.oauth.handler import OAuthHandler
from cityos_identity.stores import Stores
from cityos_identity.tokens import ACCESS_TOKEN_TYP, InvalidToken, TokenVerifier
from cityos_identity.usecases.clients import ClientUseCases
from cityos_identity.usecases.consent import ConsentUseCases
from cityos_identity.usecases.keys import KeyUseCases
from cityos_identity.usecases.policies import PolicyUseCases
from cityos_identity.usecases.tenants import TenantUseCases
from cityos_identity.usecases.users import UserUseCases

_log = logging.getLogger(__name__)
SERVICE_NAME = pb.DESCRIPTOR.services_by_name["Identity"].full_name
AUTHORIZATION = "authorization"

Context: TypeAlias = grpc.aio.ServicerContext
Req = TypeVar("Req")
Resp = TypeVar("Resp")
UseCase: TypeAlias = Callable[[Caller, Req], Awaitable[Resp]]


def _trace_id() -> str:
    span_context = trace.get_current_span().get_span_context()
    return format(span_context.trace_id, "032x") if span_context.is_valid else ""


class IdentityServicer(identity_pb2_grpc.IdentityServicer):
    """Every `cityos.identity.v1.Identity` RPC, delegated to a use case."""

    def __init__(
        self,
        stores: Stores,
        verifier: TokenVerifier,
        audience: str,
        *,
        tenants: TenantUseCases,
        users: UserUseCases,
        clients: ClientUseCases,
        consent: ConsentUseCases,
        policies: PolicyUseCases,
        keys: KeyUseCases,
        oauth: OAuthHandler,
    ) -> None:
        self._stores = stores
        self._verifier = verifier
        self._audience = audience
        self._tenants = tenants
        self._users = users
        self._clients = clients
        self._consent = consent
        self._policies = policies
        self._keys = keys
        self._oauth = oauth

    async def _caller(self, context: Context) -> Caller:
        """The caller whose access token the gateway forwarded, or an anonymous caller."""
        header = metadata_value(context.invocation_metadata(), AUTHORIZATION)
        if not header:
            return Caller()
        scheme, _, token = header.partition(" ")
        if scheme.lower() != "bearer" or not token.strip():
            raise ProblemError("Unauthorized", "metadata 'authorization' must be 'Bearer <access token>'")
        try:
            claims = await self._verifier.verify(token.strip(), typ=ACCESS_TOKEN_TYP, audience=self._audience)
        except InvalidToken as error:
            raise ProblemError("Unauthorized", str(error)) from None
        if await self._stores.tokens.is_revoked(str(claims.get("jti", ""))):
            raise ProblemError("Unauthorized", "the access token has been revoked")
        return Caller.from_claims(claims)

    async def _call(self, use_case: UseCase[Req, Resp], request: Req, context: Context) -> Resp:
        """Run a use case; problems become gRPC statuses, anything unexpected a 500 without internals."""
        try:
            return await use_case(await self._caller(context), request)
        except ProblemError as problem:
            await abort_with_problem(context, problem)
        except Exception:
            trace_id = _trace_id()
            _log.exception("unexpected failure", extra={"rpc": use_case.__name__, "trace_id": trace_id})
            detail = "the identity service failed unexpectedly" + (
                f"; trace id {trace_id}" if trace_id else ""
            )
            await abort_with_problem(context, ProblemError("InternalError", detail, status=500))

    async def CreateTenant(self, request: pb.CreateTenantRequest, context: Context) -> pb.Tenant:
        return await self._call(self._tenants.create, request, context)

    async def GetTenant(self, request: pb.GetTenantRequest, context: Context) -> pb.Tenant:
        return await self._call(self._tenants.get, request, context)

    async def ListTenants(self, request: pb.ListTenantsRequest, context: Context) -> pb.ListTenantsResponse:
        return await self._call(self._tenants.list, request, context)

    async def SuspendTenant(self, request: pb.TenantNameRequest, context: Context) -> pb.Tenant:
        return await self._call(self._tenants.suspend, request, context)

    async def ResumeTenant(self, request: pb.TenantNameRequest, context: Context) -> pb.Tenant:
        return await self._call(self._tenants.resume, request, context)

    async def DeleteTenant(self, request: pb.TenantNameRequest, context: Context) -> pb.Tenant:
        return await self._call(self._tenants.delete, request, context)

    async def CreateUser(self, request: pb.CreateUserRequest, context: Context) -> pb.User:
        return await self._call(self._users.create, request, context)

    async def GetUser(self, request: pb.GetUserRequest, context: Context) -> pb.User:
        return await self._call(self._users.get, request, context)

    async def ListUsers(self, request: pb.ListUsersRequest, context: Context) -> pb.ListUsersResponse:
        return await self._call(self._users.list, request, context)

    async def SetUserRoles(self, request: pb.SetUserRolesRequest, context: Context) -> pb.User:
        return await self._call(self._users.set_roles, request, context)

    async def SetUserPassword(self, request: pb.SetUserPasswordRequest, context: Context) -> pb.User:
        return await self._call(self._users.set_password, request, context)

    async def SetUserDisabled(self, request: pb.SetUserDisabledRequest, context: Context) -> pb.User:
        return await self._call(self._users.set_disabled, request, context)

    async def DeleteUser(self, request: pb.DeleteUserRequest, context: Context) -> pb.DeleteResponse:
        return await self._call(self._users.delete, request, context)

    async def CreateClient(
        self, request: pb.CreateClientRequest, context: Context
    ) -> pb.CreateClientResponse:
        return await self._call(self._clients.create_client, request, context)

    async def GetClient(self, request: pb.GetClientRequest, context: Context) -> pb.Client:
        return await self._call(self._clients.get_client, request, context)

    async def ListClients(self, request: pb.ListClientsRequest, context: Context) -> pb.ListClientsResponse:
        return await self._call(self._clients.list_clients, request, context)

    async def DeleteClient(self, request: pb.DeleteClientRequest, context: Context) -> pb.DeleteResponse:
        return await self._call(self._clients.delete_client, request, context)

    async def CreateApiKey(
        self, request: pb.CreateApiKeyRequest, context: Context
    ) -> pb.CreateApiKeyResponse:
        return await self._call(self._clients.create_api_key, request, context)

    async def ListApiKeys(self, request: pb.ListApiKeysRequest, context: Context) -> pb.ListApiKeysResponse:
        return await self._call(self._clients.list_api_keys, request, context)

    async def RevokeApiKey(self, request: pb.RevokeApiKeyRequest, context: Context) -> pb.ApiKey:
        return await self._call(self._clients.revoke_api_key, request, context)

    async def VerifyApiKey(
        self, request: pb.VerifyApiKeyRequest, context: Context
    ) -> pb.VerifyApiKeyResponse:
        return await self._call(self._clients.verify_api_key, request, context)

    async def RecordConsent(self, request: pb.RecordConsentRequest, context: Context) -> pb.ConsentRecord:
        return await self._call(self._consent.record, request, context)

    async def WithdrawConsent(self, request: pb.WithdrawConsentRequest, context: Context) -> pb.ConsentRecord:
        return await self._call(self._consent.withdraw, request, context)

    async def ListConsents(
        self, request: pb.ListConsentsRequest, context: Context
    ) -> pb.ListConsentsResponse:
        return await self._call(self._consent.list, request, context)

    async def ListConsentAudit(
        self, request: pb.ListConsentAuditRequest, context: Context
    ) -> pb.ListConsentAuditResponse:
        return await self._call(self._consent.audit, request, context)

    async def PutEntityPolicy(self, request: pb.PutEntityPolicyRequest, context: Context) -> pb.EntityPolicy:
        return await self._call(self._policies.put_policy, request, context)

    async def DeleteEntityPolicy(
        self, request: pb.DeleteEntityPolicyRequest, context: Context
    ) -> pb.DeleteResponse:
        return await self._call(self._policies.delete_policy, request, context)

    async def ListEntityPolicies(
        self, request: pb.ListEntityPoliciesRequest, context: Context
    ) -> pb.ListEntityPoliciesResponse:
        return await self._call(self._policies.list_policies, request, context)

    async def SetPublicTypes(self, request: pb.SetPublicTypesRequest, context: Context) -> pb.PublicTypes:
        return await self._call(self._policies.set_public_types, request, context)

    async def PutSharingGrant(self, request: pb.PutSharingGrantRequest, context: Context) -> pb.SharingGrant:
        return await self._call(self._policies.put_grant, request, context)

    async def DeleteSharingGrant(
        self, request: pb.DeleteSharingGrantRequest, context: Context
    ) -> pb.DeleteResponse:
        return await self._call(self._policies.delete_grant, request, context)

    async def ListSharingGrants(
        self, request: pb.ListSharingGrantsRequest, context: Context
    ) -> pb.ListSharingGrantsResponse:
        return await self._call(self._policies.list_grants, request, context)

    async def GetAccessPolicies(
        self, request: pb.GetAccessPoliciesRequest, context: Context
    ) -> pb.AccessPolicies:
        return await self._call(self._policies.access_policies, request, context)

    async def GetJwks(self, request: pb.GetJwksRequest, context: Context) -> pb.GetJwksResponse:
        return await self._call(self._keys.jwks, request, context)

    async def RotateSigningKey(
        self, request: pb.RotateSigningKeyRequest, context: Context
    ) -> pb.RotateSigningKeyResponse:
        return await self._call(self._keys.rotate, request, context)

    async def ListRevokedTokens(
        self, request: pb.ListRevokedTokensRequest, context: Context
    ) -> pb.ListRevokedTokensResponse:
        return await self._call(self._keys.revoked, request, context)

    async def HandleOAuthRequest(self, request: pb.HttpRequest, context: Context) -> pb.HttpResponse:
        try:
            return await self._oauth.handle(request)
        except Exception:
            trace_id = _trace_id()
            _log.exception("OAuth request failed", extra={"path": request.path, "trace_id": trace_id})
            await abort_with_problem(
                context, ProblemError("InternalError", "the identity service failed unexpectedly", status=500)
            )


def register(servicer: IdentityServicer) -> Callable[[grpc.aio.Server], None]:
    """The GrpcServer registration callback for `servicer`."""
    return lambda server: identity_pb2_grpc.add_IdentityServicer_to_server(servicer, server)
