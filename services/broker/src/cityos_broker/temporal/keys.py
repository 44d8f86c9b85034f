"""Redis keys of the temporal history, all under the tenant's hash tag `{t:<tenant>}` (one cluster slot)."""

from __future__ import annotations

from cityos_broker.store.keys import TenantKeys


class HistoryKeys:
    """Key builders of one tenant's history.

    An entity id and an attribute IRI never contain a space (both are validated URIs), so a space
    separates them unambiguously in per-attribute keys.
    """

    __slots__ = ("ids", "prefix", "tenant")

    def __init__(self, tenant: str) -> None:
        self.tenant = tenant
        self.prefix = TenantKeys(tenant).prefix
        self.ids = self.prefix + "hids"  # zset, score 0: every temporal entity id, lexical order for paging

    def entity(self, entity_id: str) -> str:
        """Hash: latest known type, scope and attribute instances (fields `type`, `scope`, `a:<iri>`)."""
        return f"{self.prefix}hent:{entity_id}"

    def attributes(self, entity_id: str) -> str:
        """Set: IRIs of the attributes that have history."""
        return f"{self.prefix}hattrs:{entity_id}"

    def type_index(self, type_iri: str) -> str:
        """Zset, score 0: ids of temporal entities that had this type."""
        return f"{self.prefix}htype:{type_iri}"

    def instances(self, entity_id: str, attr_iri: str) -> str:
        """Zset: the attribute's instances (JSON) scored by epoch milliseconds."""
        return f"{self.prefix}hist:{entity_id} {attr_iri}"

    def archived_days(self, entity_id: str, attr_iri: str) -> str:
        """Set: UTC days (YYYY-MM-DD) of the attribute's history archived to S3."""
        return f"{self.prefix}hdays:{entity_id} {attr_iri}"


ARCHIVE_LEASE_KEY = "cityos:lease:history-archive"
RECORDER_GROUP = "cityos-history"
