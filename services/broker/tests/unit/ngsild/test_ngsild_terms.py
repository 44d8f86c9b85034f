"""Term maps: JSON-LD expansion and compaction with the core context and user contexts."""

from __future__ import annotations

import pytest
from cityos_broker.ngsild.contexts import CORE_CONTEXT_URL, TermMap, core_context
from cityos_runtime.problems import ProblemError

DEFAULT = "https://uri.etsi.org/ngsi-ld/default-context/"
NGSILD = "https://uri.etsi.org/ngsi-ld/"


def test_core_terms_expand_to_ngsi_ld_iris(core: TermMap) -> None:
    assert core.expand("location") == NGSILD + "location"
    assert core.expand("observationSpace") == NGSILD + "observationSpace"
    assert core.expand("Point") == "https://purl.org/geojson/vocab#Point"


def test_undefined_terms_expand_into_the_default_context(core: TermMap) -> None:
    assert core.expand("temperature") == DEFAULT + "temperature"
    assert core.compact(DEFAULT + "temperature") == "temperature"


def test_absolute_iris_and_keywords_pass_through(core: TermMap) -> None:
    assert core.expand("http://example.org/speed") == "http://example.org/speed"
    assert core.expand("urn:ngsi-ld:attr:speed") == "urn:ngsi-ld:attr:speed"
    assert core.expand("@context") == "@context"
    assert core.expand("id") == "@id"
    assert core.expand("type") == "@type"


def test_core_prefix_compact_iri_expands(core: TermMap) -> None:
    assert core.expand("ngsi-ld:foo") == NGSILD + "foo"
    assert core.compact(NGSILD + "somethingNew") == "ngsi-ld:somethingNew"


def test_unknown_iri_compacts_to_itself(core: TermMap) -> None:
    assert core.compact("http://example.org/x") == "http://example.org/x"


def test_user_terms_and_compact_iris_expand(user: TermMap) -> None:
    assert user.expand("Building") == "https://uri.fiware.org/ns/data-models#Building"
    assert user.expand("fiware:Shop") == "https://uri.fiware.org/ns/data-models#Shop"
    assert user.expand("waterLevel") == "https://smartdatamodels.org/dataModel.Environment/waterLevel"


@pytest.mark.parametrize("term", ["Building", "waterLevel", "category", "temperature", "location"])
def test_expand_compact_round_trip_with_user_context(user: TermMap, term: str) -> None:
    assert user.compact(user.expand(term)) == term


@pytest.mark.parametrize("term", ["temperature", "location", "createdAt", "Property"])
def test_expand_compact_round_trip_without_user_context(core: TermMap, term: str) -> None:
    assert core.compact(core.expand(term)) == term


def test_compaction_uses_a_known_prefix_when_no_term_matches(user: TermMap) -> None:
    assert user.compact("https://uri.fiware.org/ns/data-models#Shop") == "fiware:Shop"


def test_compaction_picks_the_shortest_term() -> None:
    terms = TermMap.compile([{"speedKmh": "http://example.org/speed", "spd": "http://example.org/speed"}])
    assert terms.compact("http://example.org/speed") == "spd"


def test_core_context_is_protected_against_user_redefinition() -> None:
    terms = TermMap.compile(
        [{"location": "http://example.org/myLocation", "Property": "http://example.org/P"}]
    )
    assert terms.expand("location") == NGSILD + "location"
    assert terms.expand("Property") == NGSILD + "Property"


def test_core_vocab_wins_over_a_user_vocab() -> None:
    terms = TermMap.compile([{"@vocab": "http://example.org/vocab/"}])
    assert terms.expand("speed") == DEFAULT + "speed"


def test_term_definition_keeps_type_coercion(user: TermMap) -> None:
    definition = user.definition("category")
    assert definition is not None
    assert definition.type_mapping == "@vocab"
    assert definition.iri == "https://uri.fiware.org/ns/data-models#category"


def test_prefix_defined_after_use_in_the_same_context_expands() -> None:
    terms = TermMap.compile([{"Shop": "ex:Shop", "ex": "http://example.org/"}])
    assert terms.expand("Shop") == "http://example.org/Shop"


def test_later_contexts_override_earlier_ones() -> None:
    terms = TermMap.compile([{"speed": "http://a.example/speed"}, {"speed": "http://b.example/speed"}])
    assert terms.expand("speed") == "http://b.example/speed"


def test_null_term_definition_removes_the_term() -> None:
    terms = TermMap.compile([{"speed": "http://a.example/speed"}, {"speed": None}])
    assert terms.expand("speed") == DEFAULT + "speed"


def test_invalid_term_definition_is_bad_request_data() -> None:
    with pytest.raises(ProblemError) as caught:
        TermMap.compile([{"speed": 42}])
    assert caught.value.kind == "BadRequestData"


def test_context_value_defaults_to_the_core_url(core: TermMap, user: TermMap) -> None:
    assert core.context_value == CORE_CONTEXT_URL
    assert core.link_url == CORE_CONTEXT_URL
    assert user.context_value == "https://example.org/ctx.jsonld"
    assert user.link_url == "https://example.org/ctx.jsonld"


def test_bundled_core_context_is_the_v1_9_document() -> None:
    doc = core_context()
    assert doc["@context"]["@protected"] is True
    assert doc["@context"]["ngsi-ld"] == NGSILD
