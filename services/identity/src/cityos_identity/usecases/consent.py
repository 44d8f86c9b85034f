"""Consent records: a resident grants or withdraws a service's use of a data category for a purpose."""

from __future__ import annotations

import secrets
import time

from cityos.identity.v1 import identity_pb2 as pb
from cityos_runtime.problems import ProblemError

from cityos_identity import convert
from cityos_identity.caller import Caller
from cityos_identity.models import ConsentRecord
from cityos_identity.store.consent import audit_record
from cityos_identity.stores import Stores


def _text(value: str, what: str) -> str:
    clean = value.strip()
    if not clean or len(clean) > 200:
        raise ProblemError("BadRequestData", f"{what} must be 1-200 characters")
    return clean


class ConsentUseCases:
    """Record, withdraw and query consent; every change lands in the audit stream atomically."""

    def __init__(self, stores: Stores) -> None:
        self._s = stores

    async def _subject(self, caller: Caller, subject: str) -> str:
        caller.require_authenticated()
        subject = subject or caller.subject
        user = await self._s.directory.get_user(subject)
        if user is None:
            raise ProblemError("ResourceNotFound", f"user {subject!r} not found")
        caller.require_self_or_admin(subject, list(user.memberships))
        return subject

    async def record(self, caller: Caller, request: pb.RecordConsentRequest) -> pb.ConsentRecord:
        subject = await self._subject(caller, request.subject)
        client = await self._s.principals.get_client(request.client_id)
        if client is None:
            raise ProblemError("ResourceNotFound", f"client {request.client_id!r} not found")
        record = ConsentRecord(
            id="c-" + secrets.token_hex(12),
            subject=subject,
            client_id=client.client_id,
            tenant=client.tenant,
            data_category=_text(request.data_category, "data_category"),
            purpose=_text(request.purpose, "purpose"),
            granted_at=int(time.time()),
        )
        await self._s.consent.save(record, action="granted", actor=caller.subject)
        return convert.consent(record)

    async def withdraw(self, caller: Caller, request: pb.WithdrawConsentRequest) -> pb.ConsentRecord:
        subject = await self._subject(caller, request.subject)
        record = await self._s.consent.get(subject, request.id)
        if record is None:
            raise ProblemError("ResourceNotFound", f"consent record {request.id!r} not found")
        if record.state != "withdrawn":
            record.state = "withdrawn"
            record.withdrawn_at = int(time.time())
            await self._s.consent.save(record, action="withdrawn", actor=caller.subject)
        return convert.consent(record)

    async def list(self, caller: Caller, request: pb.ListConsentsRequest) -> pb.ListConsentsResponse:
        subject = await self._subject(caller, request.subject)
        records = [
            r
            for r in await self._s.consent.records(subject)
            if (not request.client_id or r.client_id == request.client_id)
            and (not request.data_category or r.data_category == request.data_category)
            and (not request.granted_only or r.state == "granted")
        ]
        return pb.ListConsentsResponse(records=[convert.consent(r) for r in records])

    async def audit(self, caller: Caller, request: pb.ListConsentAuditRequest) -> pb.ListConsentAuditResponse:
        """The audit trail (platform admins; the personal-data broker reads it with an admin token)."""
        caller.require_platform_admin()
        limit = request.limit or 100
        if not 1 <= limit <= 1000:
            raise ProblemError("BadRequestData", "limit must be between 1 and 1000")
        events = []
        for event_id, fields in await self._s.consent.audit(request.after, limit):
            if request.subject and fields.get("subject") != request.subject:
                continue
            events.append(
                pb.ConsentAuditEvent(
                    event_id=event_id,
                    action=fields["action"],
                    actor=fields.get("actor", ""),
                    record=convert.consent(audit_record(fields)),
                )
            )
        return pb.ListConsentAuditResponse(events=events)
