"""Entity-type policies, public datasets and sharing grants; one read for the gateway's cache."""

from __future__ import annotations

import re
import time

from cityos.identity.v1 import identity_pb2 as pb
from cityos_runtime.problems import ProblemError

from cityos_identity import convert
from cityos_identity.caller import Caller
from cityos_identity.models import EntityPolicy, SharingGrant, Tenant, validate_tenant
from cityos_identity.stores import Stores

# Entity types and attributes as the gateway sees them: short names or absolute IRIs, no blanks.
_NAME = re.compile(r"[^\s<>\"{}|\\^`]{1,512}")
_MAX_NAMES = 1000
_POLICY_NAME = re.compile(r"[A-Za-z0-9_-]{1,64}")


def _names(values: list[str], what: str, *, required: bool) -> list[str]:
    clean = sorted({v.strip() for v in values if v.strip()})
    if required and not clean:
        raise ProblemError("BadRequestData", f"at least one {what} is required")
    if len(clean) > _MAX_NAMES:
        raise ProblemError("BadRequestData", f"at most {_MAX_NAMES} {what}s")
    for value in clean:
        if not _NAME.fullmatch(value):
            raise ProblemError("BadRequestData", f"invalid {what} {value[:100]!r}")
    return clean


def _policy_name(name: str) -> str:
    clean = name.strip() or "default"
    if not _POLICY_NAME.fullmatch(clean):
        raise ProblemError(
            "BadRequestData", f"invalid policy name {name[:80]!r}: use letters, digits, '_', '-'"
        )
    return clean


class PolicyUseCases:
    """Tenant admins manage their tenant's policies; the gateway reads them (and caches by version)."""

    def __init__(self, stores: Stores) -> None:
        self._s = stores

    async def _admin_of(self, caller: Caller, tenant_name: str) -> str:
        tenant = validate_tenant(tenant_name)
        caller.require_tenant_admin(tenant)
        await self._s.directory.require_tenant(tenant)
        return tenant

    async def put_policy(self, caller: Caller, request: pb.PutEntityPolicyRequest) -> pb.EntityPolicy:
        spec = request.policy
        tenant = await self._admin_of(caller, spec.tenant)
        if spec.client_id != "*" and not spec.client_id.strip():
            raise ProblemError("BadRequestData", "client_id is required ('*' for every caller)")
        policy = EntityPolicy(
            tenant=tenant,
            client_id=spec.client_id.strip(),
            name=_policy_name(spec.name),
            entity_types=_names(list(spec.entity_types), "entity type", required=True),
            attributes=_names(list(spec.attributes), "attribute", required=False),
            read=spec.read or spec.write,
            write=spec.write,
        )
        await self._s.policies.put_policy(policy)
        return convert.policy(policy)

    async def delete_policy(self, caller: Caller, request: pb.DeleteEntityPolicyRequest) -> pb.DeleteResponse:
        tenant = await self._admin_of(caller, request.tenant)
        return pb.DeleteResponse(
            deleted=await self._s.policies.delete_policy(
                tenant, request.client_id, _policy_name(request.name)
            )
        )

    async def list_policies(
        self, caller: Caller, request: pb.ListEntityPoliciesRequest
    ) -> pb.ListEntityPoliciesResponse:
        tenant = await self._admin_of(caller, request.tenant)
        policies = await self._s.policies.list_policies(tenant)
        return pb.ListEntityPoliciesResponse(policies=[convert.policy(p) for p in policies])

    async def set_public_types(self, caller: Caller, request: pb.SetPublicTypesRequest) -> pb.PublicTypes:
        tenant = await self._admin_of(caller, request.tenant)
        types = _names(list(request.entity_types), "entity type", required=False)
        await self._s.policies.set_public_types(tenant, types)
        return pb.PublicTypes(tenant=tenant, entity_types=types)

    async def put_grant(self, caller: Caller, request: pb.PutSharingGrantRequest) -> pb.SharingGrant:
        owner = await self._admin_of(caller, request.grant.owner)
        grantee = validate_tenant(request.grant.grantee)
        await self._s.directory.require_tenant(grantee)
        if grantee == owner:
            raise ProblemError("BadRequestData", "a tenant cannot grant itself")
        grant = SharingGrant(
            owner=owner,
            grantee=grantee,
            created_at=int(time.time()),
            entity_types=_names(list(request.grant.entity_types), "entity type", required=True),
        )
        await self._s.policies.put_grant(grant)
        return convert.grant(grant)

    async def delete_grant(self, caller: Caller, request: pb.DeleteSharingGrantRequest) -> pb.DeleteResponse:
        owner = await self._admin_of(caller, request.owner)
        grantee = validate_tenant(request.grantee)
        return pb.DeleteResponse(deleted=await self._s.policies.delete_grant(owner, grantee))

    async def list_grants(
        self, caller: Caller, request: pb.ListSharingGrantsRequest
    ) -> pb.ListSharingGrantsResponse:
        owner = validate_tenant(request.owner) if request.owner else ""
        grantee = validate_tenant(request.grantee) if request.grantee else ""
        if not (owner and caller.is_tenant_admin(owner)) and not (
            grantee and caller.is_tenant_admin(grantee)
        ):
            caller.require_platform_admin()
        grants = await self._s.policies.list_grants(owner, grantee)
        return pb.ListSharingGrantsResponse(grants=[convert.grant(g) for g in grants])

    async def access_policies(
        self, _caller: Caller, request: pb.GetAccessPoliciesRequest
    ) -> pb.AccessPolicies:
        """Everything the gateway enforces for one tenant (internal RPC: no caller token needed)."""
        tenant_name = validate_tenant(request.tenant)
        record, policies, public, grants, version = await self._s.policies.snapshot(tenant_name)
        if record is None:
            raise ProblemError("NonexistentTenant", f"tenant {tenant_name!r} does not exist")
        return pb.AccessPolicies(
            tenant=tenant_name,
            tenant_state=Tenant.from_json(record).state,
            policies=[convert.policy(p) for p in policies],
            public_types=public,
            grants=[convert.grant(g) for g in grants],
            version=version,
        )
