"""The archive bucket is created when first needed: a broker that started before S3 still archives."""

from __future__ import annotations

import uuid
from typing import Any

import pytest
from cityos_broker.temporal.blobs import S3HistoryArchive
from cityos_broker.temporal.settings import TemporalSettings

pytestmark = pytest.mark.integration

GAUGE = "urn:ngsi-ld:Gauge:bucket-1"
LEVEL = "https://uri.etsi.org/ngsi-ld/default-context/level"


def _archive(s3_settings: Any, bucket: str) -> tuple[S3HistoryArchive, Any]:
    settings = TemporalSettings.from_env(environ=s3_settings.as_env())
    assert settings.s3 is not None
    client = settings.s3.client()
    return S3HistoryArchive(client, bucket), client


async def test_a_missing_bucket_is_created_by_the_first_archive_write(s3_settings: Any) -> None:
    bucket = f"archive-{uuid.uuid4().hex[:12]}"
    archive, client = _archive(s3_settings, bucket)
    assert not client.bucket_exists(bucket)

    # Reads and deletes before anything was archived answer "nothing", not an error.
    assert await archive.get_day("sapporo", GAUGE, LEVEL, "2026-11-01") == []
    await archive.delete_day("sapporo", GAUGE, LEVEL, "2026-11-01")
    await archive.delete_prefix("sapporo/")
    assert not client.bucket_exists(bucket)

    points = [(1_761_955_200_000.0, {"type": "Property", "value": 1.5})]
    await archive.put_day("sapporo", GAUGE, LEVEL, "2026-11-01", points)

    assert client.bucket_exists(bucket)
    stored = await archive.get_day("sapporo", GAUGE, LEVEL, "2026-11-01")
    assert [value["value"] for _, value in stored] == [1.5]


async def test_ensure_bucket_is_idempotent_across_replicas(s3_settings: Any) -> None:
    bucket = f"archive-{uuid.uuid4().hex[:12]}"
    first, client = _archive(s3_settings, bucket)
    second, _ = _archive(s3_settings, bucket)
    await first.ensure_bucket()
    await second.ensure_bucket()
    await first.ensure_bucket()
    assert client.bucket_exists(bucket)
