"""Domain records <-> protobuf messages."""

from __future__ import annotations

from cityos.identity.v1 import identity_pb2 as pb

from cityos_identity import models


def tenant(t: models.Tenant) -> pb.Tenant:
    return pb.Tenant(
        name=t.name,
        parent=t.parent,
        display_name=t.display_name,
        state=t.state,
        created_at=t.created_at,
        updated_at=t.updated_at,
    )


def user(u: models.User, locked_until: int = 0) -> pb.User:
    return pb.User(
        id=u.id,
        username=u.username,
        display_name=u.display_name,
        email=u.email,
        memberships=[pb.Membership(tenant=t, roles=r) for t, r in sorted(u.memberships.items())],
        platform_admin=u.platform_admin,
        disabled=u.disabled,
        created_at=u.created_at,
        locked_until=locked_until,
    )


def client(c: models.Client) -> pb.Client:
    return pb.Client(
        client_id=c.client_id,
        tenant=c.tenant,
        name=c.name,
        confidential=c.confidential,
        redirect_uris=c.redirect_uris,
        post_logout_redirect_uris=c.post_logout_redirect_uris,
        grant_types=c.grant_types,
        scopes=c.scopes,
        roles=c.roles,
        created_at=c.created_at,
    )


def api_key(k: models.ApiKey) -> pb.ApiKey:
    return pb.ApiKey(
        key_id=k.key_id,
        tenant=k.tenant,
        name=k.name,
        scopes=k.scopes,
        roles=k.roles,
        created_at=k.created_at,
        expires_at=k.expires_at,
        revoked=k.revoked,
    )


def consent(r: models.ConsentRecord) -> pb.ConsentRecord:
    return pb.ConsentRecord(
        id=r.id,
        subject=r.subject,
        client_id=r.client_id,
        data_category=r.data_category,
        purpose=r.purpose,
        state=r.state,
        granted_at=r.granted_at,
        withdrawn_at=r.withdrawn_at,
        tenant=r.tenant,
    )


def policy(p: models.EntityPolicy) -> pb.EntityPolicy:
    return pb.EntityPolicy(
        tenant=p.tenant,
        client_id=p.client_id,
        entity_types=p.entity_types,
        attributes=p.attributes,
        read=p.read,
        write=p.write,
        name=p.name,
    )


def grant(g: models.SharingGrant) -> pb.SharingGrant:
    return pb.SharingGrant(
        owner=g.owner, grantee=g.grantee, entity_types=g.entity_types, created_at=g.created_at
    )
