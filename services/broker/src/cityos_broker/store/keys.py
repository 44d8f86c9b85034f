"""Redis key names (docs/broker-design.md): every tenant key carries the hash tag `{t:<tenant>}`."""

from __future__ import annotations

import re

from cityos_runtime.problems import ProblemError

TENANTS_KEY = "cityos:tenants"
# Hosted @contexts are served at tenant-free URLs (/ngsi-ld/v1/jsonldContexts/{id}), so they are global;
# one hash tag keeps the documents and their index in one Redis Cluster slot (they change in one MULTI).
CONTEXT_PREFIX = "cityos:{ctx}:d:"
CONTEXT_INDEX = "cityos:{ctx}:ids"

_TENANT_NAME = re.compile(r"[a-z0-9][a-z0-9_-]{0,62}")


def as_text(value: bytes | str) -> str:
    """A Redis reply item as text (the client runs with decode_responses=False for speed)."""
    return value.decode() if isinstance(value, bytes) else value


def validate_tenant(name: str) -> str:
    """The tenant name when it is lowercase `[a-z0-9][a-z0-9_-]{0,62}`, else ProblemError BadRequestData."""
    if not _TENANT_NAME.fullmatch(name):
        raise ProblemError(
            "BadRequestData",
            f"invalid tenant name {name[:80]!r}: use 1-63 lowercase letters, digits, '_' or '-', "
            "starting with a letter or digit",
        )
    return name


class TenantKeys:
    """Key builders of one tenant; all keys share the tenant's hash tag (one Redis Cluster slot)."""

    __slots__ = ("attrs", "changes", "ids", "prefix", "sequence", "types")

    def __init__(self, tenant: str) -> None:
        self.prefix = f"{{t:{tenant}}}:"
        self.ids = self.prefix + "ids"
        self.types = self.prefix + "types"
        self.attrs = self.prefix + "attrs"
        self.changes = self.prefix + "changes"
        self.sequence = self.prefix + "seq"

    def entity(self, entity_id: str) -> str:
        return f"{self.prefix}e:{entity_id}"

    def type_index(self, type_iri: str) -> str:
        return f"{self.prefix}type:{type_iri}"

    def attr_index(self, attr_iri: str) -> str:
        return f"{self.prefix}attr:{attr_iri}"

    def type_attrs(self, type_iri: str) -> str:
        return f"{self.prefix}typeattrs:{type_iri}"

    def type_attr_kinds(self, type_iri: str) -> str:
        return f"{self.prefix}typeattrkinds:{type_iri}"

    def attr_kinds(self, attr_iri: str) -> str:
        return f"{self.prefix}attrkinds:{attr_iri}"

    def geo(self, attr_iri: str) -> str:
        return f"{self.prefix}geo:{attr_iri}"

    def geo_shapes(self, attr_iri: str) -> str:
        return f"{self.prefix}geoshapes:{attr_iri}"

    def geo_unplaced(self, attr_iri: str) -> str:
        return f"{self.prefix}geounplaced:{attr_iri}"

    def numbers(self, attr_iri: str) -> str:
        return f"{self.prefix}num:{attr_iri}"

    def numbers_other(self, attr_iri: str) -> str:
        return f"{self.prefix}numother:{attr_iri}"

    def temp(self, token: str) -> str:
        return f"{self.prefix}tmp:{token}"

    def match_all(self) -> str:
        """SCAN MATCH pattern for every key of the tenant (names are validated, so no glob characters)."""
        return self.prefix + "*"
