"""Archived history in S3 (minio client): one gzip JSON-lines object per tenant/entity/attribute/UTC day."""

from __future__ import annotations

import asyncio
import gzip
import io
from typing import Protocol
from urllib.parse import quote

import orjson
from minio import Minio
from minio.error import S3Error

from cityos_broker.temporal.changes import Instance

ArchivedPoint = tuple[float, Instance]
_PREFIX = "temporal"


def object_prefix(tenant: str, entity_id: str, iri: str | None = None) -> str:
    """Object name prefix of an entity (or one of its attributes); ids are percent-encoded, so `/` is safe."""
    prefix = f"{_PREFIX}/{tenant}/{quote(entity_id, safe='')}/"
    return prefix if iri is None else f"{prefix}{quote(iri, safe='')}/"


def object_name(tenant: str, entity_id: str, iri: str, day: str) -> str:
    return f"{object_prefix(tenant, entity_id, iri)}{day}.jsonl.gz"


def encode_day(points: list[ArchivedPoint]) -> bytes:
    """Gzip JSON lines `{"t": epoch ms, "i": instance}` in time order."""
    lines = b"".join(
        orjson.dumps({"t": at, "i": instance}, option=orjson.OPT_SORT_KEYS) + b"\n"
        for at, instance in sorted(points, key=lambda p: p[0])
    )
    return gzip.compress(lines, compresslevel=6)


def decode_day(data: bytes) -> list[ArchivedPoint]:
    points: list[ArchivedPoint] = []
    for line in gzip.decompress(data).splitlines():
        if line.strip():
            row = orjson.loads(line)
            points.append((float(row["t"]), row["i"]))
    return points


_NO_BUCKET = "NoSuchBucket"


class HistoryArchive(Protocol):
    """Where days of history go once they leave Redis."""

    async def get_day(self, tenant: str, entity_id: str, iri: str, day: str) -> list[ArchivedPoint]: ...

    async def put_day(
        self, tenant: str, entity_id: str, iri: str, day: str, points: list[ArchivedPoint]
    ) -> None: ...

    async def delete_day(self, tenant: str, entity_id: str, iri: str, day: str) -> None: ...

    async def delete_prefix(self, prefix: str) -> None: ...


class S3HistoryArchive:
    """`HistoryArchive` over an S3 bucket; the blocking minio calls run in worker threads.

    The bucket is created when it is first needed, not only at start-up: in Kubernetes the broker often
    starts before the object store answers, and a bucket deleted by an operator comes back on the next
    archive run instead of failing every one of them.
    """

    def __init__(self, client: Minio, bucket: str) -> None:
        self._client = client
        self._bucket = bucket

    async def ensure_bucket(self) -> None:
        await asyncio.to_thread(self._ensure)

    def _ensure(self) -> None:
        if not self._client.bucket_exists(self._bucket):
            try:
                self._client.make_bucket(self._bucket)
            except S3Error as error:
                # Another replica created it between the two calls.
                if error.code not in ("BucketAlreadyOwnedByYou", "BucketAlreadyExists"):
                    raise

    async def get_day(self, tenant: str, entity_id: str, iri: str, day: str) -> list[ArchivedPoint]:
        name = object_name(tenant, entity_id, iri, day)

        def fetch() -> bytes | None:
            try:
                response = self._client.get_object(self._bucket, name)
            except S3Error as error:
                if error.code in ("NoSuchKey", "NoSuchObject", _NO_BUCKET):
                    return None  # nothing archived (yet)
                raise
            try:
                return bytes(response.read())
            finally:
                response.close()
                response.release_conn()

        data = await asyncio.to_thread(fetch)
        return decode_day(data) if data is not None else []

    async def put_day(
        self, tenant: str, entity_id: str, iri: str, day: str, points: list[ArchivedPoint]
    ) -> None:
        data = encode_day(points)
        name = object_name(tenant, entity_id, iri, day)

        def put() -> None:
            try:
                self._put(name, data)
            except S3Error as error:
                if error.code != _NO_BUCKET:
                    raise
                self._ensure()
                self._put(name, data)

        await asyncio.to_thread(put)

    def _put(self, name: str, data: bytes) -> None:
        self._client.put_object(
            self._bucket, name, io.BytesIO(data), len(data), content_type="application/gzip"
        )

    async def delete_day(self, tenant: str, entity_id: str, iri: str, day: str) -> None:
        def remove() -> None:
            try:
                self._client.remove_object(self._bucket, object_name(tenant, entity_id, iri, day))
            except S3Error as error:
                if error.code != _NO_BUCKET:
                    raise

        await asyncio.to_thread(remove)

    async def delete_prefix(self, prefix: str) -> None:
        def remove() -> None:
            try:
                for item in self._client.list_objects(self._bucket, prefix=prefix, recursive=True):
                    if item.object_name:
                        self._client.remove_object(self._bucket, item.object_name)
            except S3Error as error:
                if error.code != _NO_BUCKET:
                    raise

        await asyncio.to_thread(remove)
