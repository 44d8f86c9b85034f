"""poll_until returns the first ready result and names what it waited for on timeout."""

import pytest
from cityos_devtools.polling import poll_until


async def test_returns_the_first_result_that_is_not_none_or_false() -> None:
    results = iter([None, False, 0, 5])
    assert await poll_until(lambda: next(results), "a value", timeout=2.0, interval=0.001) == 0


async def test_awaits_async_checks() -> None:
    calls = 0

    async def check() -> str | None:
        nonlocal calls
        calls += 1
        return "ready" if calls == 3 else None

    assert await poll_until(check, "readiness", timeout=2.0, interval=0.001) == "ready"
    assert calls == 3


async def test_timeout_names_what_and_the_last_result() -> None:
    with pytest.raises(
        AssertionError, match=r"waiting for the broker to list entity X \(last result: False\)"
    ):
        await poll_until(lambda: False, "the broker to list entity X", timeout=0.05, interval=0.01)


async def test_errors_from_the_check_propagate() -> None:
    def check() -> None:
        raise KeyError("boom")

    with pytest.raises(KeyError):
        await poll_until(check, "nothing", timeout=1.0)
