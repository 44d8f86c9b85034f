"""First start: the default tenant, the first platform admin and the operator console client."""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time

from cityos_runtime.problems import ProblemError

from cityos_identity.models import API_SCOPES, OIDC_SCOPES, Client, Tenant, User, validate_tenant
from cityos_identity.passwords import PasswordHasher, check_password_policy
from cityos_identity.stores import Stores

_log = logging.getLogger("cityos.identity.bootstrap")
ADMIN_USERNAME = "admin"
CONSOLE_CLIENT = "console"


async def bootstrap(
    stores: Stores, hasher: PasswordHasher, *, tenant: str, password: str, issuer: str
) -> None:
    """Create, when missing, tenant `tenant`, the platform admin `admin` and the public client
    `<tenant>.console` (PKCE, redirect `<issuer>/console/callback`). Never changes existing records."""
    check_password_policy(password)
    name = validate_tenant(tenant)
    try:
        await stores.directory.create_tenant(Tenant(name=name, display_name=name))
        _log.info("bootstrap tenant created", extra={"event": "bootstrap_tenant", "tenant": name})
    except ProblemError:
        pass  # exists already
    if await stores.directory.find_user(ADMIN_USERNAME) is None:
        admin = User(
            id="u-" + "0" * 31 + "1",
            username=ADMIN_USERNAME,
            password_hash=await asyncio.to_thread(hasher.hash, password),
            display_name="Platform administrator",
            memberships={name: ["tenant-admin"]},
            platform_admin=True,
        )
        try:
            await stores.directory.create_user(admin)
            _log.info("bootstrap admin created", extra={"event": "bootstrap_admin", "user": admin.id})
        except ProblemError:
            pass  # another replica won the race
    client_id = f"{name}.{CONSOLE_CLIENT}"
    if await stores.principals.get_client(client_id) is None:
        console = Client(
            client_id=client_id,
            tenant=name,
            name="City OS console",
            confidential=False,
            redirect_uris=[f"{issuer}/console/callback"],
            post_logout_redirect_uris=[f"{issuer}/console/"],
            grant_types=["authorization_code", "refresh_token"],
            scopes=sorted({*OIDC_SCOPES, *API_SCOPES}),
            created_at=int(time.time()),
        )
        with contextlib.suppress(ProblemError):  # another replica won the race
            await stores.principals.create_client(console)
