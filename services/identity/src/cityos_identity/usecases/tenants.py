"""Tenant lifecycle: the prefecture and its municipalities, created and retired at run time."""

from __future__ import annotations

from cityos.identity.v1 import identity_pb2 as pb
from cityos_runtime.problems import ProblemError

from cityos_identity import convert
from cityos_identity.caller import Caller
from cityos_identity.models import Tenant, validate_tenant
from cityos_identity.stores import Stores


class TenantUseCases:
    """Create, read, suspend, resume and delete tenants (platform admins only for changes)."""

    def __init__(self, stores: Stores) -> None:
        self._s = stores

    async def create(self, caller: Caller, request: pb.CreateTenantRequest) -> pb.Tenant:
        caller.require_platform_admin()
        name = validate_tenant(request.tenant.name)
        parent = validate_tenant(request.tenant.parent) if request.tenant.parent else ""
        if parent:
            parent_tenant = await self._s.directory.require_tenant(parent)
            if parent_tenant.parent:
                raise ProblemError(
                    "BadRequestData", f"tenant {parent!r} is a municipality; only the prefecture has children"
                )
        display = request.tenant.display_name.strip()[:200]
        created = await self._s.directory.create_tenant(
            Tenant(name=name, parent=parent, display_name=display)
        )
        return convert.tenant(created)

    async def get(self, caller: Caller, request: pb.GetTenantRequest) -> pb.Tenant:
        caller.require_authenticated()
        return convert.tenant(
            await self._s.directory.require_tenant(validate_tenant(request.name), live=False)
        )

    async def list(self, caller: Caller, request: pb.ListTenantsRequest) -> pb.ListTenantsResponse:
        caller.require_authenticated()
        parent = validate_tenant(request.parent) if request.parent else ""
        tenants = [
            t
            for t in await self._s.directory.list_tenants()
            if (request.include_deleted or t.state != "deleted") and (not parent or t.parent == parent)
        ]
        return pb.ListTenantsResponse(tenants=[convert.tenant(t) for t in tenants])

    async def suspend(self, caller: Caller, request: pb.TenantNameRequest) -> pb.Tenant:
        return await self._set_state(caller, request.name, "suspended")

    async def resume(self, caller: Caller, request: pb.TenantNameRequest) -> pb.Tenant:
        return await self._set_state(caller, request.name, "active")

    async def _set_state(self, caller: Caller, name: str, state: str) -> pb.Tenant:
        caller.require_platform_admin()
        tenant = await self._s.directory.require_tenant(validate_tenant(name))

        def set_state(record: Tenant) -> None:
            if record.state == "deleted":
                raise ProblemError("NonexistentTenant", f"tenant {record.name!r} does not exist")
            record.state = state

        updated = await self._s.directory.update_tenant(tenant.name, set_state)
        if updated is None:
            raise ProblemError("NonexistentTenant", f"tenant {tenant.name!r} does not exist")
        return convert.tenant(updated)

    async def delete(self, caller: Caller, request: pb.TenantNameRequest) -> pb.Tenant:
        """Mark deleted and purge identity data; other services' data is purged by the caller."""
        caller.require_platform_admin()
        tenant = await self._s.directory.require_tenant(validate_tenant(request.name))
        children = [
            t.name
            for t in await self._s.directory.list_tenants()
            if t.parent == tenant.name and t.state != "deleted"
        ]
        if children:
            raise ProblemError("Conflict", f"tenant {tenant.name!r} still has municipalities: {children}")
        # Mark it deleted first, so nothing new can be registered while its data is purged.
        deleted = await self._s.directory.update_tenant(tenant.name, _mark_deleted)
        if deleted is None:
            raise ProblemError("NonexistentTenant", f"tenant {tenant.name!r} does not exist")
        await self._s.policies.purge_grants(tenant.name)
        await self._s.directory.purge_tenant(tenant.name)
        return convert.tenant(deleted)


def _mark_deleted(tenant: Tenant) -> None:
    tenant.state = "deleted"
