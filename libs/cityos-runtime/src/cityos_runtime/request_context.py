"""The current request's tenant and request id, carried in contextvars across awaits."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from contextvars import ContextVar, Token

# ContextVar objects are immutable handles; each asyncio task sees its own value.
_TENANT: ContextVar[str] = ContextVar("cityos_tenant", default="")
_REQUEST_ID: ContextVar[str] = ContextVar("cityos_request_id", default="")


def get_tenant() -> str:
    """The current call's tenant ("" when none was given: the deployment's default tenant)."""
    return _TENANT.get()


def set_tenant(tenant: str) -> Token[str]:
    """Bind the tenant for the current context; pass the token to reset_tenant to undo."""
    return _TENANT.set(tenant)


def reset_tenant(token: Token[str]) -> None:
    """Restore the tenant that was current before the matching set_tenant."""
    _TENANT.reset(token)


def get_request_id() -> str:
    """The current call's request id ("" when none)."""
    return _REQUEST_ID.get()


def set_request_id(request_id: str) -> Token[str]:
    """Bind the request id for the current context; pass the token to reset_request_id to undo."""
    return _REQUEST_ID.set(request_id)


def reset_request_id(token: Token[str]) -> None:
    """Restore the request id that was current before the matching set_request_id."""
    _REQUEST_ID.reset(token)


@contextmanager
def request_scope(tenant: str, request_id: str = "") -> Iterator[None]:
    """Bind tenant and request id for the duration of a `with` block, then restore the previous values."""
    tenant_token = _TENANT.set(tenant)
    request_token = _REQUEST_ID.set(request_id)
    try:
        yield
    finally:
        _REQUEST_ID.reset(request_token)
        _TENANT.reset(tenant_token)
