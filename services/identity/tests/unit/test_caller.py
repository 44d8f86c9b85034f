"""Authorisation of management calls from the verified token's claims."""

from __future__ import annotations

import pytest
from cityos_identity.caller import Caller
from cityos_runtime.problems import ProblemError


def _caller(
    roles: dict[str, list[str]], scope: str = "admin", platform: bool = False, sub: str = "u-1"
) -> Caller:
    return Caller.from_claims(
        {
            "sub": sub,
            "client_id": "t.app",
            "scope": scope,
            "tenant_roles": roles,
            "roles": ["platform-admin"] if platform else [],
        }
    )


def _status(check: object) -> int:
    try:
        check()  # type: ignore[operator]
    except ProblemError as error:
        return error.status
    return 200


def test_anonymous_is_unauthorized() -> None:
    assert _status(Caller().require_authenticated) == 401
    assert _status(lambda: Caller().require_tenant_admin("t")) == 401


def test_platform_admin_needs_the_admin_scope() -> None:
    assert _status(_caller({}, platform=True).require_platform_admin) == 200
    assert _status(_caller({}, scope="openid", platform=True).require_platform_admin) == 403
    assert _status(_caller({"t": ["tenant-admin"]}).require_platform_admin) == 403


def test_tenant_admin_only_for_their_tenant() -> None:
    admin = _caller({"t": ["tenant-admin"], "u": ["resident"]})
    assert _status(lambda: admin.require_tenant_admin("t")) == 200
    assert _status(lambda: admin.require_tenant_admin("u")) == 403
    assert _status(lambda: _caller({}, platform=True).require_tenant_admin("any")) == 200


def test_self_or_admin() -> None:
    resident = _caller({"t": ["resident"]}, scope="openid", sub="u-7")
    assert _status(lambda: resident.require_self_or_admin("u-7", ["t"])) == 200
    assert _status(lambda: resident.require_self_or_admin("u-8", ["t"])) == 403
    admin = _caller({"t": ["tenant-admin"]})
    assert _status(lambda: admin.require_self_or_admin("u-8", ["t"])) == 200
    assert _status(lambda: admin.require_self_or_admin("u-8", ["other"])) == 403
    # A client_credentials token (sub == client_id) is never "the resident".
    client = Caller.from_claims({"sub": "t.app", "client_id": "t.app", "scope": "", "tenant_roles": {}})
    assert _status(lambda: client.require_self_or_admin("t.app", [])) == 403


@pytest.mark.parametrize("claims", [{}, {"sub": "u", "tenant_roles": "not a map"}])
def test_malformed_claims_give_no_rights(claims: dict[str, object]) -> None:
    caller = Caller.from_claims(claims)
    assert not caller.platform_admin and dict(caller.tenant_roles) == {}
