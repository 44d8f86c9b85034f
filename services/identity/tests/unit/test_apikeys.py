"""API keys: format, hashing, parsing and constant-time matching."""

from __future__ import annotations

import hashlib

import pytest
from cityos_identity import apikeys


def test_new_key_is_stored_only_as_its_digest() -> None:
    key_id, full, digest = apikeys.new_key("sapporo")
    assert full.startswith(f"ck.sapporo.{key_id}.") and len(full.split(".")[3]) >= 43
    assert digest == hashlib.sha256(full.encode()).hexdigest() and full not in digest
    assert apikeys.matches(full, digest)
    assert not apikeys.matches(full + "x", digest)
    assert apikeys.new_key("sapporo")[1] != full


def test_parse() -> None:
    key_id, full, _ = apikeys.new_key("otaru")
    parsed = apikeys.parse_key(full)
    assert parsed is not None and parsed.tenant == "otaru" and parsed.key_id == key_id


@pytest.mark.parametrize(
    "key", ["", "ck", "ck.otaru.id", "xx.otaru.id." + "s" * 43, "ck.Bad!.id." + "s" * 43, "ck.otaru.id.short"]
)
def test_malformed_keys_do_not_parse(key: str) -> None:
    assert apikeys.parse_key(key) is None
