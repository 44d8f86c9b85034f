"""End-to-end fixtures: the whole stack started as a user starts it, and an HTTP client for its API.

`stack` runs `python -m cityos_devtools run --gateway-port 0` with embedded Valkey and S3 in a temporary
data folder (once per session); Ctrl-C (SIGINT) at the end must stop it cleanly with exit code 0.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest
from cityos_devtools.launcher import LaunchedStack, StackStartError

_HERE = Path(__file__).parent


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    """Mark every test in this folder `e2e`, so `-m e2e` / `-m "not e2e"` select them."""
    for item in items:
        if _HERE in Path(str(item.path)).parents:
            item.add_marker(pytest.mark.e2e)


@pytest.fixture(scope="session")
def stack(tmp_path_factory: pytest.TempPathFactory) -> Iterator[LaunchedStack]:
    """The running City OS (attributes: gateway_url, data_dir, ready, output())."""
    launched = LaunchedStack(tmp_path_factory.mktemp("cityos-e2e"))
    try:
        launched.start()
    except StackStartError as exc:
        pytest.fail(f"the City OS stack did not start:\n{exc}", pytrace=False)
    yield launched
    code = launched.interrupt()
    assert code == 0, f"cityos-dev exited with {code} after Ctrl-C\n{launched.diagnostics()}"


@pytest.fixture(scope="session")
def client(stack: LaunchedStack) -> Iterator[httpx.Client]:
    """An HTTP client for the NGSI-LD API (base URL <gateway>/ngsi-ld/v1)."""
    with httpx.Client(base_url=stack.gateway_url + "/ngsi-ld/v1", timeout=10.0) as http:
        yield http
