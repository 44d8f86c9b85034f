"""pytest fixtures for real dependencies: `redis_url`, `redis_cluster`, `redis_sentinel`, `redis_env`,
`s3_settings`, `unique_tenant`.

Registered in the repository's root conftest.py. The session fixtures are synchronous on purpose: they
manage child processes without an event loop, so tests may use any pytest-asyncio loop scope.
"""

from __future__ import annotations

import os
import uuid
from collections.abc import Iterator

import pytest

from cityos_devtools.embedded import EmbeddedS3, EmbeddedValkey
from cityos_devtools.embedded_topologies import EmbeddedSentinel, EmbeddedValkeyCluster
from cityos_devtools.settings import S3Settings


@pytest.fixture(scope="session")
def redis_url(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """$REDIS_URL when set, else the URL of a throwaway embedded Valkey on a free port."""
    given = os.environ.get("REDIS_URL", "").strip()
    if given:
        yield given
        return
    with EmbeddedValkey(tmp_path_factory.mktemp("valkey")) as server:
        yield server.url


@pytest.fixture(scope="session")
def redis_cluster(tmp_path_factory: pytest.TempPathFactory) -> Iterator[dict[str, str]]:
    """The environment of a throwaway 3-primary Redis Cluster (REDIS_MODE, REDIS_URL, REDIS_CLUSTER_NODES).

    Always embedded, never the machine's Redis: cross-slot commands must fail here as on a real cluster.
    """
    with EmbeddedValkeyCluster(tmp_path_factory.mktemp("valkey-cluster")) as cluster:
        yield cluster.env


@pytest.fixture(scope="session")
def redis_sentinel(tmp_path_factory: pytest.TempPathFactory) -> Iterator[dict[str, str]]:
    """The environment of a throwaway password-protected primary behind one Sentinel (REDIS_MODE=sentinel)."""
    with EmbeddedSentinel(tmp_path_factory.mktemp("valkey-sentinel")) as topology:
        yield topology.env


REDIS_MODES = ("standalone", "cluster", "sentinel")


def pytest_configure(config: pytest.Config) -> None:
    config.addinivalue_line(
        "markers",
        "redis_modes(*modes): run the test once per Redis mode (standalone, cluster, sentinel); "
        "its fixtures read the `redis_env` fixture",
    )


def pytest_generate_tests(metafunc: pytest.Metafunc) -> None:
    """Parametrize `redis_env` with the modes of a `redis_modes` marker (else $CITYOS_TEST_REDIS_MODES)."""
    if "redis_env" not in metafunc.fixturenames:
        return
    marker = metafunc.definition.get_closest_marker("redis_modes")
    # CITYOS_TEST_REDIS_MODES=cluster runs every test that has no marker on a cluster (a whole-suite check).
    default = tuple(m.strip() for m in os.environ.get("CITYOS_TEST_REDIS_MODES", "standalone").split(","))
    modes = marker.args if marker is not None else default
    unknown = set(modes) - set(REDIS_MODES)
    if unknown:
        raise pytest.UsageError(f"redis_modes: unknown mode(s) {sorted(unknown)}; use {REDIS_MODES}")
    metafunc.parametrize("redis_env", modes, indirect=True, ids=[f"redis-{m}" for m in modes])


@pytest.fixture
def redis_env(request: pytest.FixtureRequest, redis_url: str) -> dict[str, str]:
    """The Redis variables a service under test gets (REDIS_URL, and REDIS_MODE etc. for cluster / sentinel).

    Standalone unless the test carries `@pytest.mark.redis_modes(...)`, which runs it once per mode.
    """
    mode = getattr(request, "param", "standalone")
    if mode == "cluster":
        return dict(request.getfixturevalue("redis_cluster"))
    if mode == "sentinel":
        return dict(request.getfixturevalue("redis_sentinel"))
    return {"REDIS_URL": redis_url}


@pytest.fixture(scope="session")
def s3_settings(tmp_path_factory: pytest.TempPathFactory) -> Iterator[S3Settings]:
    """S3 settings from $S3_ENDPOINT etc. when set, else a throwaway embedded SeaweedFS (bucket created)."""
    given = S3Settings.from_env()
    if given is not None:
        yield given
        return
    with EmbeddedS3(tmp_path_factory.mktemp("s3")) as server:
        yield server.settings


@pytest.fixture
def unique_tenant() -> str:
    """A fresh, valid tenant name (`t-` and 12 hex digits), so tests never share data."""
    return f"t-{uuid.uuid4().hex[:12]}"
