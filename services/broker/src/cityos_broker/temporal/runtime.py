"""The temporal parts of a running broker: history store, recorder and archive job, started and stopped."""

from __future__ import annotations

import asyncio
import logging
import os
import socket
import uuid
from dataclasses import dataclass, field

from cityos_runtime.redis_connect import RedisClient

from cityos_broker.temporal.archive import ArchiveJob
from cityos_broker.temporal.blobs import S3HistoryArchive
from cityos_broker.temporal.recorder import HistoryRecorder
from cityos_broker.temporal.settings import TemporalSettings
from cityos_broker.temporal.store import HistoryStore

_log = logging.getLogger("cityos.broker.temporal")


def replica_name() -> str:
    """A name unique to this process: consumer name in the recorder group and archive lease owner."""
    return f"{socket.gethostname()}-{os.getpid()}-{uuid.uuid4().hex[:6]}"


@dataclass(slots=True)
class TemporalRuntime:
    """History store plus the background recorder and archive job of one broker replica."""

    settings: TemporalSettings
    history: HistoryStore
    archive: S3HistoryArchive | None
    recorder: HistoryRecorder | None
    archiver: ArchiveJob | None
    _tasks: list[asyncio.Task[None]] = field(default_factory=list)
    _stopping: asyncio.Event = field(default_factory=asyncio.Event)

    @classmethod
    def build(
        cls, redis: RedisClient, settings: TemporalSettings, *, name: str | None = None
    ) -> TemporalRuntime:
        """Wire the parts; the archive exists only when S3 is configured."""
        name = name or replica_name()
        history = HistoryStore(redis)
        archive = S3HistoryArchive(settings.s3.client(), settings.s3.bucket) if settings.s3 else None
        recorder = None
        if settings.record_history:
            recorder = HistoryRecorder(redis, history, consumer=name, claim_idle_ms=settings.claim_idle_ms)
        archiver = None
        if archive is not None:
            archiver = ArchiveJob(
                redis,
                history,
                archive,
                owner=name,
                retention_ms=settings.retention_ms,
                interval=settings.archive_interval,
            )
        return cls(settings, history, archive, recorder, archiver)

    async def start(self) -> None:
        """Load the history script, make sure the bucket exists, start recording and archiving."""
        await self.history.load_scripts()
        if self.archive is not None:
            try:
                await self.archive.ensure_bucket()
            except Exception as error:  # S3 being down must not keep the broker from serving
                _log.warning("S3 bucket check failed; archiving retries later", extra={"error": repr(error)})
        else:
            _log.warning(
                "S3 is not configured (S3_ENDPOINT): temporal history stays in Redis, never archived"
            )
        if self.recorder is not None:
            self._tasks.append(
                asyncio.create_task(self.recorder.run(self._stopping), name="history-recorder")
            )
        if self.archiver is not None:
            self._tasks.append(
                asyncio.create_task(self.archiver.run_forever(self._stopping), name="history-archive")
            )

    async def stop(self, grace: float = 3.0) -> None:
        """Let the loops finish their batch (acknowledged or left pending for a restart), then cancel."""
        self._stopping.set()
        if not self._tasks:
            return
        _, pending = await asyncio.wait(self._tasks, timeout=grace)
        for task in pending:
            task.cancel()
        if pending:
            _, stuck = await asyncio.wait(pending, timeout=grace)
            for task in stuck:
                _log.warning("temporal task did not stop", extra={"task": task.get_name()})
        self._tasks.clear()
