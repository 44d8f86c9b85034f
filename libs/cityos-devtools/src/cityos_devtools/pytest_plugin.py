"""pytest fixtures for real dependencies: `redis_url`, `redis_cluster`, `redis_sentinel`, `s3_settings`,
`unique_tenant`.

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
