"""The shared pytest fixtures hand out working, isolated dependencies."""

import io
import re

import pytest
import redis.asyncio as aioredis
from cityos_devtools.settings import S3Settings
from minio import Minio

pytestmark = pytest.mark.integration


async def test_redis_url_fixture_answers(redis_url: str) -> None:
    client = aioredis.Redis.from_url(redis_url)
    try:
        assert await client.ping()
    finally:
        await client.aclose()


def test_s3_settings_fixture_has_its_bucket(s3_settings: S3Settings) -> None:
    client = Minio(
        s3_settings.endpoint, s3_settings.access_key, s3_settings.secret_key, secure=s3_settings.secure
    )
    assert client.bucket_exists(s3_settings.bucket)
    client.put_object(s3_settings.bucket, "fixture-check", io.BytesIO(b"ok"), 2)
    response = client.get_object(s3_settings.bucket, "fixture-check")
    try:
        assert response.read() == b"ok"
    finally:
        response.close()
        response.release_conn()


def test_unique_tenant_is_fresh_and_valid(unique_tenant: str) -> None:
    assert re.fullmatch(r"t-[0-9a-f]{12}", unique_tenant)
