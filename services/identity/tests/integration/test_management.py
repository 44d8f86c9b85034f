"""Management RPCs: tenant lifecycle, roles, users and lockout, API keys, consent and policies."""

from __future__ import annotations

import asyncio
from typing import Any
from urllib.parse import urlencode

import pytest
from cityos.identity.v1 import identity_pb2 as pb
from cityos_identity.browser import (
    Browser,
    FlowError,
    authorize,
    basic,
    bearer,
    body_json,
    form_fields,
    pkce_pair,
    problem,
    token_request,
)

# Also on a Redis Cluster (cityos_devtools: redis_env), where cross-slot commands fail.
pytestmark = [pytest.mark.integration, pytest.mark.redis_modes("standalone", "cluster")]
ISSUER = "http://127.0.0.1:8080"
PASSWORD = "a long enough password"
REDIRECT = "https://app.example.jp/cb"


async def _user_token(env: Any, tenant: str, username: str, scope: str) -> str:
    """A token of `username` through a fresh public client of `tenant` with every scope."""
    client_id, _ = await env.client(
        tenant,
        confidential=False,
        redirect_uris=[REDIRECT],
        grant_types=["authorization_code"],
        scopes=["openid", "admin", "entities:read"],
    )
    browser = Browser(env.stub)
    verifier, challenge = pkce_pair()
    query = await authorize(
        browser, ISSUER, client_id, REDIRECT, username, PASSWORD, scope=scope, challenge=challenge
    )
    response = await token_request(
        browser,
        ISSUER,
        {
            "grant_type": "authorization_code",
            "code": query["code"][0],
            "redirect_uri": REDIRECT,
            "client_id": client_id,
            "code_verifier": verifier,
        },
    )
    return str(body_json(response)["access_token"])


async def test_tenant_lifecycle(env: Any) -> None:
    stub, md = env.stub, env.admin_md
    town = await env.municipality(f"{env.tenant}-sapporo")
    listed = await stub.ListTenants(pb.ListTenantsRequest(parent=env.tenant), metadata=md)
    assert [t.name for t in listed.tenants] == [town]
    assert (await stub.GetTenant(pb.GetTenantRequest(name=town), metadata=md)).parent == env.tenant
    duplicate = await problem(
        stub.CreateTenant(pb.CreateTenantRequest(tenant=pb.Tenant(name=town)), metadata=md)
    )
    assert duplicate.status == 409
    bad = await problem(
        stub.CreateTenant(pb.CreateTenantRequest(tenant=pb.Tenant(name="Bad Name!")), metadata=md)
    )
    assert bad.status == 400 and "invalid tenant name" in bad.detail
    grandchild = await problem(
        stub.CreateTenant(
            pb.CreateTenantRequest(tenant=pb.Tenant(name=f"{town}-ward", parent=town)), metadata=md
        )
    )
    assert grandchild.status == 400

    # A new municipality's client works at once; suspension stops new tokens; resume restores them.
    client_id, secret = await env.client(
        town, confidential=True, grant_types=["client_credentials"], scopes=["entities:read"]
    )
    browser = Browser(stub)
    form = {"grant_type": "client_credentials"}
    assert (await token_request(browser, ISSUER, form, basic(client_id, secret))).status == 200
    assert (await stub.SuspendTenant(pb.TenantNameRequest(name=town), metadata=md)).state == "suspended"
    suspended = await token_request(browser, ISSUER, form, basic(client_id, secret))
    assert suspended.status == 401 and body_json(suspended)["error"] == "invalid_client"
    policies = await stub.GetAccessPolicies(pb.GetAccessPoliciesRequest(tenant=town))
    assert policies.tenant_state == "suspended"
    assert (await stub.ResumeTenant(pb.TenantNameRequest(name=town), metadata=md)).state == "active"
    assert (await token_request(browser, ISSUER, form, basic(client_id, secret))).status == 200

    # The prefecture cannot be deleted while it has municipalities; deleting one purges its identity data.
    blocked = await problem(stub.DeleteTenant(pb.TenantNameRequest(name=env.tenant), metadata=md))
    assert blocked.status == 409
    member = await env.resident(town, f"member-{town}", PASSWORD)
    deleted = await stub.DeleteTenant(pb.TenantNameRequest(name=town), metadata=md)
    assert deleted.state == "deleted"
    assert (await token_request(browser, ISSUER, form, basic(client_id, secret))).status == 401
    assert (await stub.ListClients(pb.ListClientsRequest(tenant=town), metadata=md)).clients == []
    assert (await stub.ListUsers(pb.ListUsersRequest(tenant=town), metadata=md)).users == []
    assert (await stub.GetUser(pb.GetUserRequest(id=member), metadata=md)).memberships == []
    assert town not in [
        t.name for t in (await stub.ListTenants(pb.ListTenantsRequest(), metadata=md)).tenants
    ]
    recreate = await problem(
        stub.CreateTenant(pb.CreateTenantRequest(tenant=pb.Tenant(name=town)), metadata=md)
    )
    assert recreate.status == 409  # a deleted name is never reused: no data can be inherited by accident


async def test_management_needs_the_right_role(env: Any) -> None:
    stub = env.stub
    anonymous = await problem(stub.CreateTenant(pb.CreateTenantRequest(tenant=pb.Tenant(name="x"))))
    assert anonymous.status == 401
    garbage = await problem(stub.ListTenants(pb.ListTenantsRequest(), metadata=bearer("a.b.c")))
    assert garbage.status == 401
    town = await env.municipality(f"{env.tenant}-otaru")
    await env.resident(town, f"admin-{town}", PASSWORD, roles=("tenant-admin",))
    await env.resident(town, f"res-{town}", PASSWORD)
    tenant_admin = await _user_token(env, town, f"admin-{town}", "openid admin")
    resident = await _user_token(env, town, f"res-{town}", "openid admin entities:read")
    create = pb.CreateTenantRequest(tenant=pb.Tenant(name=f"{town}-x"))
    assert (await problem(stub.CreateTenant(create, metadata=bearer(tenant_admin)))).status == 403
    # A tenant admin manages their own tenant, not another one.
    users = await stub.ListUsers(pb.ListUsersRequest(tenant=town), metadata=bearer(tenant_admin))
    assert {u.username for u in users.users} == {f"admin-{town}", f"res-{town}"}
    other = await problem(
        stub.ListUsers(pb.ListUsersRequest(tenant=env.tenant), metadata=bearer(tenant_admin))
    )
    assert other.status == 403
    # A resident's token never carries the admin scope, and cannot manage anything.
    assert (
        await problem(stub.ListUsers(pb.ListUsersRequest(tenant=town), metadata=bearer(resident)))
    ).status == 403
    escalate = pb.CreateUserRequest(
        username=f"evil-{town}",
        password=PASSWORD,
        platform_admin=True,
        memberships=[pb.Membership(tenant=town, roles=["resident"])],
    )
    assert (await problem(stub.CreateUser(escalate, metadata=bearer(tenant_admin)))).status == 403


async def test_lockout_after_repeated_failures(env: Any) -> None:
    await env.resident(env.tenant, f"lock-{env.tenant}", PASSWORD)
    client_id, _ = await env.client(
        env.tenant,
        confidential=False,
        redirect_uris=[REDIRECT],
        grant_types=["authorization_code"],
        scopes=["openid"],
    )
    browser = Browser(env.stub)
    _, challenge = pkce_pair()
    params = {
        "response_type": "code",
        "client_id": client_id,
        "redirect_uri": REDIRECT,
        "scope": "openid",
        "code_challenge": challenge,
        "code_challenge_method": "S256",
    }
    page = await browser.request("GET", f"{ISSUER}/oauth2/authorize?{urlencode(params)}")
    for _ in range(5):  # IDENTITY_LOCKOUT_THRESHOLD defaults to 5
        action, hidden = form_fields(page.body)
        page = await browser.request(
            "POST",
            ISSUER + action,
            {**hidden, "username": f"lock-{env.tenant}", "password": "wrong password"},
        )
        assert page.status == 401
    assert b"Too many failed sign-ins" in page.body
    action, hidden = form_fields(page.body)
    page = await browser.request(
        "POST", ISSUER + action, {**hidden, "username": f"lock-{env.tenant}", "password": PASSWORD}
    )
    assert page.status == 401 and b"Too many failed sign-ins" in page.body
    # An unknown username locks the same way, so lockout does not reveal which accounts exist.
    for _ in range(5):
        action, hidden = form_fields(page.body)
        page = await browser.request(
            "POST", ISSUER + action, {**hidden, "username": f"ghost-{env.tenant}", "password": "whatever!!"}
        )
    assert page.status == 401 and b"Too many failed sign-ins" in page.body
    user = await env.stub.ListUsers(pb.ListUsersRequest(tenant=env.tenant), metadata=env.admin_md)
    locked = next(u for u in user.users if u.username == f"lock-{env.tenant}")
    assert (await env.stub.GetUser(pb.GetUserRequest(id=locked.id), metadata=env.admin_md)).locked_until > 0
    # A password reset by an admin clears the lockout.
    await env.stub.SetUserPassword(
        pb.SetUserPasswordRequest(id=locked.id, password=PASSWORD + "!"), metadata=env.admin_md
    )
    assert (await env.stub.GetUser(pb.GetUserRequest(id=locked.id), metadata=env.admin_md)).locked_until == 0


async def test_api_keys_are_shown_once_and_revocable(env: Any) -> None:
    stub, md = env.stub, env.admin_md
    created = await stub.CreateApiKey(
        pb.CreateApiKeyRequest(
            tenant=env.tenant, name="river gauge", scopes=["entities:write"], ttl_seconds=3600
        ),
        metadata=md,
    )
    assert created.secret.startswith(f"ck.{env.tenant}.{created.key.key_id}.")
    assert created.key.expires_at > created.key.created_at
    listed = await stub.ListApiKeys(pb.ListApiKeysRequest(tenant=env.tenant), metadata=md)
    assert created.secret not in str(listed)  # never returned again
    verified = await stub.VerifyApiKey(pb.VerifyApiKeyRequest(key=created.secret))
    assert verified.valid and verified.key.scopes == ["entities:write"] and verified.key.tenant == env.tenant
    tampered = created.secret[:-2] + ("AA" if not created.secret.endswith("AA") else "BB")
    assert not (await stub.VerifyApiKey(pb.VerifyApiKeyRequest(key=tampered))).valid
    assert not (await stub.VerifyApiKey(pb.VerifyApiKeyRequest(key="garbage"))).valid
    await stub.RevokeApiKey(pb.RevokeApiKeyRequest(tenant=env.tenant, key_id=created.key.key_id), metadata=md)
    assert not (await stub.VerifyApiKey(pb.VerifyApiKeyRequest(key=created.secret))).valid
    no_scope = await problem(stub.CreateApiKey(pb.CreateApiKeyRequest(tenant=env.tenant), metadata=md))
    assert no_scope.status == 400


async def test_consent_records_and_audit(env: Any) -> None:
    sub = await env.resident(env.tenant, f"cons-{env.tenant}", PASSWORD)
    client_id, _ = await env.client(
        env.tenant, confidential=True, grant_types=["client_credentials"], scopes=["entities:read"]
    )
    resident = await _user_token(env, env.tenant, f"cons-{env.tenant}", "openid")
    record = await env.stub.RecordConsent(
        pb.RecordConsentRequest(client_id=client_id, data_category="location", purpose="snow plough alerts"),
        metadata=bearer(resident),
    )
    assert record.subject == sub and record.state == "granted" and record.tenant == env.tenant
    withdrawn = await env.stub.WithdrawConsent(
        pb.WithdrawConsentRequest(id=record.id), metadata=bearer(resident)
    )
    assert withdrawn.state == "withdrawn" and withdrawn.withdrawn_at >= record.granted_at
    listed = await env.stub.ListConsents(
        pb.ListConsentsRequest(subject=sub, granted_only=True), metadata=env.admin_md
    )
    assert listed.records == []
    audit = await env.stub.ListConsentAudit(pb.ListConsentAuditRequest(subject=sub), metadata=env.admin_md)
    assert [e.action for e in audit.events if e.record.id == record.id] == ["granted", "withdrawn"]
    assert {e.actor for e in audit.events if e.record.id == record.id} == {sub}
    stranger = await problem(
        env.stub.ListConsentAudit(pb.ListConsentAuditRequest(), metadata=bearer(resident))
    )
    assert stranger.status == 403


async def test_policies_public_types_and_sharing_grants(env: Any) -> None:
    stub, md = env.stub, env.admin_md
    town = await env.municipality(f"{env.tenant}-chitose")
    before = (await stub.GetAccessPolicies(pb.GetAccessPoliciesRequest(tenant=town))).version
    app = f"{town}.app"
    reader = pb.EntityPolicy(
        tenant=town,
        client_id=app,
        name="read-gauges",
        entity_types=["WaterLevelGauge"],
        attributes=["waterLevel"],
        read=True,
    )
    writer = pb.EntityPolicy(
        tenant=town, client_id=app, name="write-shelters", entity_types=["Shelter"], write=True
    )
    for policy in (reader, writer):
        await stub.PutEntityPolicy(pb.PutEntityPolicyRequest(policy=policy), metadata=md)
    bad_name = pb.EntityPolicy(tenant=town, client_id=app, name="no spaces", entity_types=["X"], read=True)
    assert (
        await problem(stub.PutEntityPolicy(pb.PutEntityPolicyRequest(policy=bad_name), metadata=md))
    ).status == 400
    await stub.SetPublicTypes(pb.SetPublicTypesRequest(tenant=town, entity_types=["Shelter"]), metadata=md)
    await stub.PutSharingGrant(
        pb.PutSharingGrantRequest(
            grant=pb.SharingGrant(owner=town, grantee=env.tenant, entity_types=["WaterLevelGauge"])
        ),
        metadata=md,
    )
    access = await stub.GetAccessPolicies(pb.GetAccessPoliciesRequest(tenant=town))
    assert access.tenant_state == "active" and access.version > before
    assert [(p.client_id, p.name, list(p.entity_types), p.read, p.write) for p in access.policies] == [
        (app, "read-gauges", ["WaterLevelGauge"], True, False),
        (app, "write-shelters", ["Shelter"], True, True),  # write implies read
    ]
    assert list(access.public_types) == ["Shelter"]
    assert [(g.owner, g.grantee) for g in access.grants] == [(town, env.tenant)]
    received = await stub.ListSharingGrants(pb.ListSharingGrantsRequest(grantee=env.tenant), metadata=md)
    assert [g.owner for g in received.grants] == [town]
    self_grant = await problem(
        stub.PutSharingGrant(
            pb.PutSharingGrantRequest(grant=pb.SharingGrant(owner=town, grantee=town, entity_types=["X"])),
            metadata=md,
        )
    )
    assert self_grant.status == 400
    await stub.DeleteSharingGrant(pb.DeleteSharingGrantRequest(owner=town, grantee=env.tenant), metadata=md)
    for name in ("read-gauges", "write-shelters"):
        request = pb.DeleteEntityPolicyRequest(tenant=town, client_id=app, name=name)
        assert (await stub.DeleteEntityPolicy(request, metadata=md)).deleted
    after = await stub.GetAccessPolicies(pb.GetAccessPoliciesRequest(tenant=town))
    assert not after.policies and not after.grants and after.version > access.version
    missing = await problem(stub.GetAccessPolicies(pb.GetAccessPoliciesRequest(tenant="no-such-tenant-x")))
    assert missing.status == 404


async def test_concurrent_role_changes_are_not_lost(env: Any) -> None:
    towns = [await env.municipality(f"{env.tenant}-c{i}") for i in range(6)]
    user_id = await env.resident(env.tenant, f"busy-{env.tenant}", PASSWORD)
    await asyncio.gather(
        *(
            env.stub.SetUserRoles(
                pb.SetUserRolesRequest(id=user_id, tenant=t, roles=["developer"]), metadata=env.admin_md
            )
            for t in towns
        )
    )
    user = await env.stub.GetUser(pb.GetUserRequest(id=user_id), metadata=env.admin_md)
    assert {m.tenant for m in user.memberships} == {env.tenant, *towns}
    for town in towns:
        members = await env.stub.ListUsers(pb.ListUsersRequest(tenant=town), metadata=env.admin_md)
        assert [u.id for u in members.users] == [user_id]


async def test_disabled_users_cannot_sign_in_or_refresh(env: Any) -> None:
    username = f"off-{env.tenant}"
    user_id = await env.resident(env.tenant, username, PASSWORD)
    client_id, _ = await env.client(
        env.tenant,
        confidential=False,
        redirect_uris=[REDIRECT],
        grant_types=["authorization_code", "refresh_token"],
        scopes=["openid"],
    )
    browser = Browser(env.stub)
    verifier, challenge = pkce_pair()
    query = await authorize(
        browser, ISSUER, client_id, REDIRECT, username, PASSWORD, scope="openid", challenge=challenge
    )
    tokens = body_json(
        await token_request(
            browser,
            ISSUER,
            {
                "grant_type": "authorization_code",
                "code": query["code"][0],
                "redirect_uri": REDIRECT,
                "client_id": client_id,
                "code_verifier": verifier,
            },
        )
    )
    off = await env.stub.SetUserDisabled(
        pb.SetUserDisabledRequest(id=user_id, disabled=True), metadata=env.admin_md
    )
    assert off.disabled
    refresh = await token_request(
        browser,
        ISSUER,
        {"grant_type": "refresh_token", "refresh_token": tokens["refresh_token"], "client_id": client_id},
    )
    assert refresh.status == 400
    fresh = Browser(env.stub)
    with pytest.raises(FlowError):
        await authorize(
            fresh, ISSUER, client_id, REDIRECT, username, PASSWORD, scope="openid", challenge=pkce_pair()[1]
        )
    on = await env.stub.SetUserDisabled(
        pb.SetUserDisabledRequest(id=user_id, disabled=False), metadata=env.admin_md
    )
    assert not on.disabled
    await authorize(
        Browser(env.stub),
        ISSUER,
        client_id,
        REDIRECT,
        username,
        PASSWORD,
        scope="openid",
        challenge=pkce_pair()[1],
    )
