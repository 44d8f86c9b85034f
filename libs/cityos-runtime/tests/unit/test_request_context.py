"""Tenant and request id are per-context values that tasks inherit and reset restores."""

from __future__ import annotations

import asyncio

from cityos_runtime import request_context


async def test_values_are_isolated_per_task_and_reset() -> None:
    assert request_context.get_tenant() == ""

    async def handle(tenant: str) -> tuple[str, str]:
        t1 = request_context.set_tenant(tenant)
        t2 = request_context.set_request_id(f"req-{tenant}")
        await asyncio.sleep(0)
        seen = (request_context.get_tenant(), request_context.get_request_id())
        request_context.reset_request_id(t2)
        request_context.reset_tenant(t1)
        return seen

    results = await asyncio.gather(handle("a"), handle("b"))
    assert results == [("a", "req-a"), ("b", "req-b")]
    assert request_context.get_tenant() == ""
    assert request_context.get_request_id() == ""


def test_request_scope_binds_and_restores() -> None:
    outer = request_context.set_tenant("outer")
    try:
        with request_context.request_scope("inner", "r-1"):
            assert (request_context.get_tenant(), request_context.get_request_id()) == ("inner", "r-1")
        assert (request_context.get_tenant(), request_context.get_request_id()) == ("outer", "")
    finally:
        request_context.reset_tenant(outer)
