"""Consent records per resident, with every change appended to an audit stream in the same transaction."""

from __future__ import annotations

from typing import Any

from cityos_runtime.redis_connect import RedisClient

from cityos_identity.models import ConsentRecord
from cityos_identity.store import keys

AUDIT_MAXLEN = 1_000_000


class ConsentStore:
    """Consent records (hash per resident) and the platform-wide audit stream."""

    def __init__(self, redis: RedisClient) -> None:
        self._redis = redis

    async def save(self, record: ConsentRecord, *, action: str, actor: str) -> str:
        """Write the record and its audit event atomically; returns the audit event id."""
        event: Any = {
            "action": action,
            "actor": actor,
            "subject": record.subject,
            "record": record.to_json(),
        }
        async with self._redis.pipeline(transaction=True) as pipe:
            pipe.hset(keys.consents(record.subject), record.id, record.to_json())
            pipe.xadd(keys.CONSENT_AUDIT, event, maxlen=AUDIT_MAXLEN, approximate=True)
            _, event_id = await pipe.execute()
        return str(event_id)

    async def get(self, subject: str, record_id: str) -> ConsentRecord | None:
        raw = await self._redis.hget(keys.consents(subject), record_id)
        return ConsentRecord.from_json(raw) if raw else None

    async def records(self, subject: str) -> list[ConsentRecord]:
        raw = await self._redis.hgetall(keys.consents(subject))
        return sorted((ConsentRecord.from_json(v) for v in raw.values()), key=lambda r: (r.granted_at, r.id))

    async def audit(self, after: str, limit: int) -> list[tuple[str, dict[str, str]]]:
        """Audit events after `after` (exclusive), oldest first."""
        start = f"({after}" if after else "-"
        entries: Any = await self._redis.xrange(keys.CONSENT_AUDIT, min=start, max="+", count=limit)
        return [
            (keys.text(event_id), {keys.text(k): keys.text(v) for k, v in fields.items()})
            for event_id, fields in entries or ()
        ]


def audit_record(fields: dict[str, str]) -> ConsentRecord:
    """The consent record carried by an audit event."""
    return ConsentRecord.from_json(fields["record"])
