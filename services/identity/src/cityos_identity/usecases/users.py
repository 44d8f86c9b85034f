"""Users: residents and staff, their tenant roles, passwords and login checks with lockout."""

from __future__ import annotations

import asyncio
import logging
import secrets
import time
from collections.abc import Callable
from dataclasses import dataclass

from cityos.identity.v1 import identity_pb2 as pb
from cityos_runtime.problems import ProblemError

from cityos_identity import convert
from cityos_identity.caller import Caller
from cityos_identity.lockout import LockoutPolicy
from cityos_identity.models import User, validate_roles, validate_tenant, validate_username
from cityos_identity.passwords import PasswordHasher, check_password_policy
from cityos_identity.stores import Stores

_log = logging.getLogger("cityos.identity.login")


@dataclass(frozen=True, slots=True)
class LoginResult:
    """A successful login's user, or why it failed (`locked_for` > 0 when locked out)."""

    user: User | None
    locked_for: int = 0


class UserUseCases:
    """User management (tenant admins for their tenant's members) and password checks."""

    def __init__(self, stores: Stores, hasher: PasswordHasher, lockout: LockoutPolicy) -> None:
        self._s = stores
        self._hasher = hasher
        self._lockout = lockout

    async def _hash(self, password: str) -> str:
        check_password_policy(password)
        # scrypt takes tens of milliseconds: keep it off the event loop.
        return await asyncio.to_thread(self._hasher.hash, password)

    async def create(self, caller: Caller, request: pb.CreateUserRequest) -> pb.User:
        memberships = {validate_tenant(m.tenant): validate_roles(list(m.roles)) for m in request.memberships}
        memberships = {t: r for t, r in memberships.items() if r}
        if request.platform_admin or not memberships:
            caller.require_platform_admin()  # so are users of no tenant
        for tenant in memberships:
            caller.require_tenant_admin(tenant)
            await self._s.directory.require_tenant(tenant)
        user = User(
            id="u-" + secrets.token_hex(16),
            username=validate_username(request.username),
            password_hash=await self._hash(request.password),
            display_name=request.display_name.strip()[:200],
            email=request.email.strip()[:320],
            memberships=memberships,
            platform_admin=request.platform_admin,
        )
        return convert.user(await self._s.directory.create_user(user))

    async def _update(self, user_id: str, change: Callable[[User], None]) -> User:
        updated = await self._s.directory.update_user(user_id, change)
        if updated is None:
            raise ProblemError("ResourceNotFound", f"user {user_id!r} not found")
        return updated

    async def _find(self, user_id: str) -> User:
        user = await self._s.directory.get_user(user_id)
        if user is None:
            raise ProblemError("ResourceNotFound", f"user {user_id!r} not found")
        return user

    async def get(self, caller: Caller, request: pb.GetUserRequest) -> pb.User:
        user = await self._find(request.id)
        caller.require_self_or_admin(user.id, list(user.memberships))
        return convert.user(user, await self._locked_until(user))

    async def list(self, caller: Caller, request: pb.ListUsersRequest) -> pb.ListUsersResponse:
        tenant = validate_tenant(request.tenant)
        caller.require_tenant_admin(tenant)
        return pb.ListUsersResponse(
            users=[convert.user(u) for u in await self._s.directory.list_members(tenant)]
        )

    async def set_roles(self, caller: Caller, request: pb.SetUserRolesRequest) -> pb.User:
        tenant = validate_tenant(request.tenant)
        caller.require_tenant_admin(tenant)
        await self._s.directory.require_tenant(tenant)
        roles = validate_roles(list(request.roles))

        def set_roles(user: User) -> None:
            if roles:
                user.memberships[tenant] = roles
            else:
                user.memberships.pop(tenant, None)

        return convert.user(await self._update(request.id, set_roles))

    async def set_password(self, caller: Caller, request: pb.SetUserPasswordRequest) -> pb.User:
        user = await self._find(request.id)
        if user.platform_admin and caller.subject != user.id:
            caller.require_platform_admin()
        caller.require_self_or_admin(user.id, list(user.memberships))
        password_hash = await self._hash(request.password)

        def set_hash(record: User) -> None:
            record.password_hash = password_hash

        updated = await self._update(user.id, set_hash)
        await self._s.directory.clear_failures(user.username)
        return convert.user(updated)

    async def set_disabled(self, caller: Caller, request: pb.SetUserDisabledRequest) -> pb.User:
        user = await self._find(request.id)
        self._require_manager(caller, user)
        if user.id == caller.subject:
            raise ProblemError("BadRequestData", "users cannot disable themselves")
        disabled = request.disabled

        def set_flag(record: User) -> None:
            record.disabled = disabled

        return convert.user(await self._update(user.id, set_flag))

    @staticmethod
    def _require_manager(caller: Caller, user: User) -> None:
        """Platform admins manage everyone; tenant admins manage users who belong only to their tenants."""
        if user.platform_admin or not user.memberships:
            caller.require_platform_admin()
        else:
            for tenant in user.memberships:
                caller.require_tenant_admin(tenant)

    async def delete(self, caller: Caller, request: pb.DeleteUserRequest) -> pb.DeleteResponse:
        user = await self._s.directory.get_user(request.id)
        if user is None:
            return pb.DeleteResponse(deleted=False)
        self._require_manager(caller, user)
        await self._s.directory.delete_user(user)
        return pb.DeleteResponse(deleted=True)

    async def _locked_until(self, user: User) -> int:
        failures = await self._s.directory.failures(user.username, self._lockout.window)
        wait = self._lockout.retry_after(failures, time.time())
        return int(time.time()) + wait if wait else 0

    async def login(self, username: str, password: str, *, client_ip: str = "") -> LoginResult:
        """Check a password with lockout. Failures are counted per username, known or not, and unknown
        users cost the same scrypt time, so neither timing nor lockout tells which accounts exist."""
        try:
            name = validate_username(username)
        except ProblemError:
            return LoginResult(None)
        failures = await self._s.directory.failures(name, self._lockout.window)
        wait = self._lockout.retry_after(failures, time.time())
        if wait:
            _log.warning("login refused: locked", extra={"event": "login_locked", "client_ip": client_ip})
            return LoginResult(None, locked_for=wait)
        user = await self._s.directory.find_user(name)
        if user is not None and not user.disabled:
            if await asyncio.to_thread(self._hasher.verify, user.password_hash, password):
                await self._s.directory.clear_failures(name)
                if self._hasher.needs_rehash(user.password_hash):
                    rehashed = await asyncio.to_thread(self._hasher.hash, password)
                    await self._s.directory.update_user(
                        user.id, lambda u: setattr(u, "password_hash", rehashed)
                    )
                return LoginResult(user)
        else:
            await asyncio.to_thread(self._hasher.dummy_verify, password)
        failures = await self._s.directory.record_failure(name, self._lockout.window)
        wait = self._lockout.retry_after(failures, time.time())
        _log.warning(
            "login failed",
            extra={
                "event": "login_failed",
                "user": user.id if user else "",
                "locked": bool(wait),
                "client_ip": client_ip,
            },
        )
        return LoginResult(None, locked_for=wait)
