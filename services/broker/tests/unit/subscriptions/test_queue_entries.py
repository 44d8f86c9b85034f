"""Notify-stream entries: what the matcher queues is what delivery reads back, in either entry form."""

from __future__ import annotations

from cityos_broker.subscriptions.notification import Outgoing
from cityos_broker.subscriptions.queue import Pending, decode_pending, pending_fields


def as_stored(fields: dict[str, str | bytes]) -> dict[bytes, bytes]:
    """The fields as redis-py returns them (bytes keys and values)."""
    return {k.encode(): v if isinstance(v, bytes) else v.encode() for k, v in fields.items()}


def test_an_entry_round_trips_in_two_fields() -> None:
    pending = Pending(
        "urn:ngsi-ld:Subscription:s1",
        Outgoing("urn:ngsi-ld:Notification:n1", b'{"data":[]}', "application/json", "https://ctx/x.jsonld"),
        "00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01",
    )
    fields = pending_fields(pending)
    assert set(fields) == {"h", "body"}
    assert decode_pending(as_stored(fields)) == pending


def test_entries_queued_one_field_per_member_are_still_read() -> None:
    legacy = {b"sub": b"urn:s", b"nid": b"urn:n", b"body": b"{}", b"ct": b"application/ld+json", b"link": b""}
    assert decode_pending(legacy) == Pending("urn:s", Outgoing("urn:n", b"{}", "application/ld+json", ""), "")
