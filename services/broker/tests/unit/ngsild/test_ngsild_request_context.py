"""Request @context rules: Content-Type, Link header and body @context, core context URLs."""

from __future__ import annotations

import pytest
from cityos_broker.ngsild.contexts import context_for_request, is_core_context_url, parse_link_header
from cityos_runtime.problems import ProblemError

LINK = (
    '<https://example.org/ctx.jsonld>; rel="http://www.w3.org/ns/json-ld#context"; type="application/ld+json"'
)


def test_link_header_with_json_ld_context_rel_is_parsed() -> None:
    assert parse_link_header(LINK) == "https://example.org/ctx.jsonld"


def test_link_header_with_another_rel_is_ignored() -> None:
    assert parse_link_header('<https://example.org/next>; rel="next"') is None
    assert parse_link_header(None) is None


def test_application_json_uses_the_link_context() -> None:
    body = {"id": "urn:a:b", "type": "T"}
    assert context_for_request("application/json", "https://x.example/c", body) == (
        "https://x.example/c",
        None,
    )


def test_context_in_application_json_body_is_bad_request_data() -> None:
    with pytest.raises(ProblemError) as caught:
        context_for_request("application/json", None, {"id": "urn:a:b", "@context": "https://x.example/c"})
    assert caught.value.kind == "BadRequestData"
    assert caught.value.status == 400


def test_context_in_merge_patch_body_is_bad_request_data() -> None:
    with pytest.raises(ProblemError) as caught:
        context_for_request("application/merge-patch+json", None, {"@context": {}})
    assert caught.value.kind == "BadRequestData"


def test_ld_json_body_context_is_returned() -> None:
    ctx = ["https://x.example/c"]
    assert context_for_request("application/ld+json; charset=utf-8", None, {"@context": ctx}) == (None, ctx)


def test_ld_json_without_body_context_is_bad_request_data() -> None:
    with pytest.raises(ProblemError) as caught:
        context_for_request("application/ld+json", None, {"id": "urn:a:b"})
    assert caught.value.kind == "BadRequestData"


def test_ld_json_with_link_header_is_bad_request_data() -> None:
    with pytest.raises(ProblemError) as caught:
        context_for_request("application/ld+json", "https://x.example/c", {"@context": {}})
    assert caught.value.kind == "BadRequestData"


def test_ld_json_batch_needs_a_context_in_every_item() -> None:
    assert context_for_request("application/ld+json", None, [{"@context": {}}, {"@context": {}}]) == (
        None,
        None,
    )
    with pytest.raises(ProblemError):
        context_for_request("application/ld+json", None, [{"@context": {}}, {"id": "urn:a:b"}])


def test_unsupported_content_type_is_415() -> None:
    with pytest.raises(ProblemError) as caught:
        context_for_request("text/plain", None, {})
    assert caught.value.status == 415


@pytest.mark.parametrize(
    "url",
    [
        "https://uri.etsi.org/ngsi-ld/v1/ngsi-ld-core-context-v1.9.jsonld",
        "https://uri.etsi.org/ngsi-ld/v1/ngsi-ld-core-context-v1.8.jsonld",
        "http://uri.etsi.org/ngsi-ld/v1/ngsi-ld-core-context.jsonld",
        "https://uri.etsi.org/ngsi-ld/v1/ngsi-ld-core-context-v1.3.jsonld",
        "https://forge.uri.etsi.org/ngsi-ld/ngsi-ld-core-context-v1.7.jsonld",
        "ngsi-ld-core-context-v1.9.jsonld",
    ],
)
def test_every_core_context_url_is_recognised(url: str) -> None:
    assert is_core_context_url(url)


@pytest.mark.parametrize(
    "url",
    [
        "https://evil.example/ngsi-ld-core-context-v1.9.jsonld",
        "https://uri.etsi.org.evil.example/ngsi-ld/v1/ngsi-ld-core-context.jsonld",
        "ftp://uri.etsi.org/ngsi-ld/v1/ngsi-ld-core-context.jsonld",
        "https://uri.etsi.org/ngsi-ld/v1/other.jsonld",
    ],
)
def test_other_urls_are_not_core_contexts(url: str) -> None:
    assert not is_core_context_url(url)
