"""Query entities: type, id, q, scopeQ, projection and lang (ETSI GS CIM 009, 4.9, 4.15, 4.17, 5.7.2)."""

from __future__ import annotations

from typing import Any

import httpx
import pytest

ERRORS = "https://uri.etsi.org/ngsi-ld/errors/"
GAUGE = "urn:ngsi-ld:WaterLevelGauge:"
SAPPORO_CITY = "urn:ngsi-ld:Organization:sapporo"


def _gauge(key: str, level: float, observed: str, river: str, alert: str, **attrs: Any) -> dict[str, Any]:
    """A gauge; `quality` (if given) becomes a sub-property of waterLevel, other keywords entity members."""
    level_attr: dict[str, Any] = {"type": "Property", "value": level, "observedAt": observed}
    if "quality" in attrs:
        level_attr["quality"] = {"type": "Property", "value": attrs.pop("quality")}
    return {
        "id": GAUGE + key,
        "type": "WaterLevelGauge",
        "waterLevel": level_attr,
        "river": {"type": "Property", "value": river},
        "alertLevel": {"type": "Property", "value": alert},
        **attrs,
    }


def _address(locality: str, district: str) -> dict[str, Any]:
    return {"type": "Property", "value": {"addressLocality": locality, "district": district}}


CITY_DATA: list[dict[str, Any]] = [
    _gauge(
        "g1",
        1.5,
        "2026-11-20T00:00:00Z",
        "Toyohira",
        "normal",
        address=_address("Sapporo", "Chuo"),
        scope="/Hokkaido/Sapporo",
        managedBy={"type": "Relationship", "object": SAPPORO_CITY},
        name={"type": "LanguageProperty", "languageMap": {"ja": "豊平川", "en": "Toyohira River"}},
        quality="good",
    ),
    _gauge(
        "g2",
        3.0,
        "2026-11-21T12:00:00Z",
        "Ishikari",
        "warning",
        address=_address("Sapporo", "Kita"),
        scope="/Hokkaido/Sapporo",
        quality="suspect",
    ),
    _gauge(
        "g3",
        4.5,
        "2026-11-22T01:00:00Z",
        "Ishikari",
        "danger",
        address=_address("Ebetsu", "Nopporo"),
        scope="/Hokkaido/Ebetsu",
        quality="good",
    ),
    _gauge(
        "g4",
        0.8,
        "2026-11-19T00:00:00Z",
        "Katsura",
        "normal",
        address=_address("Otaru", "Ironai"),
        scope="/Hokkaido/Otaru",
    ),
    _gauge("m1", 2.0, "2026-11-18T00:00:00Z", "Toyohira", "normal") | {"type": ["WaterLevelGauge", "Camera"]},
    {
        "id": "urn:ngsi-ld:RainGauge:r1",
        "type": "RainGauge",
        "precipitation": {"type": "Property", "value": 12},
        "station": {"type": "Property", "value": "Shinjuku"},
        "scope": "/Tokyo/Shinjuku",
    },
    {"id": "urn:ngsi-ld:Camera:c1", "type": "Camera", "alertLevel": {"type": "Property", "value": "normal"}},
]

G1, G2, G3, G4, M1 = (GAUGE + key for key in ("g1", "g2", "g3", "g4", "m1"))
R1, C1 = "urn:ngsi-ld:RainGauge:r1", "urn:ngsi-ld:Camera:c1"


@pytest.fixture
def city(tenant_client: httpx.Client) -> httpx.Client:
    """The tenant's client, with the city's gauges, rain gauge and camera created."""
    response = tenant_client.post("/entityOperations/create", json=CITY_DATA)
    assert response.status_code == 201, response.text
    return tenant_client


def found(tenant_client: httpx.Client, **params: str) -> set[str]:
    """The ids a GET /entities query returns."""
    response = tenant_client.get("/entities", params=params)
    assert response.status_code == 200, f"{params}: {response.text}"
    return {entity["id"] for entity in response.json()}


@pytest.mark.parametrize(
    ("expression", "expected"),
    [
        ("WaterLevelGauge,RainGauge", {G1, G2, G3, G4, M1, R1}),
        ("RainGauge|Camera", {R1, C1, M1}),
        ("WaterLevelGauge;Camera", {M1}),
        ("(WaterLevelGauge;Camera)|RainGauge", {M1, R1}),
    ],
    ids=["comma-or", "pipe-or", "semicolon-and", "parentheses"],
)
def test_type_expression_selects_entities_by_type(
    city: httpx.Client, expression: str, expected: set[str]
) -> None:
    assert found(city, type=expression) == expected


def test_id_list_selects_those_entities(city: httpx.Client) -> None:
    assert found(city, id=f"{G1},{G3},{R1}") == {G1, G3, R1}


def test_id_pattern_selects_matching_ids(city: httpx.Client) -> None:
    assert found(city, idPattern=r"^urn:ngsi-ld:WaterLevelGauge:g[12]$") == {G1, G2}


@pytest.mark.parametrize(
    ("q", "expected"),
    [
        ("waterLevel==3.0", {G2}),
        ('river=="Ishikari"', {G2, G3}),
        ('alertLevel!="normal"', {G2, G3}),
        ("waterLevel>3.0", {G3}),
        ("waterLevel>=3.0", {G2, G3}),
        ("waterLevel<1.5", {G4}),
        ("waterLevel<=1.5", {G1, G4}),
        ("waterLevel==1.0..3.0", {G1, G2, M1}),
        ('river=="Toyohira","Katsura"', {G1, G4, M1}),
        ('river~="^Ish"', {G2, G3}),
        ('river!~="^Ish"', {G1, G4, M1}),
        ('river=="Ishikari";waterLevel>4', {G3}),
        ('alertLevel=="danger"|waterLevel<1', {G3, G4}),
        ('(river=="Ishikari"|river=="Katsura");waterLevel<4', {G2, G4}),
        ("managedBy", {G1}),
        (f'managedBy=="{SAPPORO_CITY}"', {G1}),
    ],
    ids=[
        "equal-number",
        "equal-string",
        "unequal",
        "greater",
        "greater-equal",
        "less",
        "less-equal",
        "range",
        "value-list",
        "pattern",
        "not-pattern",
        "and",
        "or",
        "parentheses",
        "exists",
        "relationship",
    ],
)
def test_q_operator_selects_matching_entities(city: httpx.Client, q: str, expected: set[str]) -> None:
    assert found(city, type="WaterLevelGauge", q=q) == expected


def test_q_bracket_path_reaches_into_a_compound_value(city: httpx.Client) -> None:
    assert found(city, type="WaterLevelGauge", q='address[addressLocality]=="Sapporo"') == {G1, G2}


def test_q_dotted_path_reaches_a_sub_property(city: httpx.Client) -> None:
    assert found(city, type="WaterLevelGauge", q='waterLevel.quality=="good"') == {G1, G3}


def test_q_dotted_path_reaches_observed_at(city: httpx.Client) -> None:
    assert found(city, type="WaterLevelGauge", q="waterLevel.observedAt>=2026-11-21T00:00:00Z") == {G2, G3}


@pytest.mark.parametrize(
    ("scope_q", "expected"),
    [
        ("/Hokkaido/Sapporo", {G1, G2}),
        ("/Hokkaido/#", {G1, G2, G3, G4}),
        ("/Hokkaido/+", {G1, G2, G3, G4}),
        ("/Hokkaido/Sapporo,/Tokyo/Shinjuku", {G1, G2, R1}),
        ("/#", {G1, G2, G3, G4, R1}),
    ],
    ids=["exact", "descendants", "children", "or", "any-scope"],
)
def test_scope_query_selects_entities_by_scope(city: httpx.Client, scope_q: str, expected: set[str]) -> None:
    assert found(city, type="WaterLevelGauge,RainGauge", scopeQ=scope_q) == expected


def test_attrs_projects_and_keeps_only_entities_having_them(city: httpx.Client) -> None:
    response = city.get("/entities", params={"type": "WaterLevelGauge", "attrs": "address"})
    assert response.status_code == 200, response.text
    entities = response.json()
    assert {entity["id"] for entity in entities} == {G1, G2, G3, G4}
    # scope is an entity member, not an attribute: projection by attrs keeps it
    assert all(set(entity) - {"scope"} == {"id", "type", "address"} for entity in entities)


def test_pick_returns_only_the_named_members(city: httpx.Client) -> None:
    response = city.get("/entities", params={"type": "RainGauge", "pick": "id,precipitation"})
    assert response.status_code == 200, response.text
    assert response.json() == [{"id": R1, "precipitation": {"type": "Property", "value": 12}}]


def test_omit_drops_the_named_members(city: httpx.Client) -> None:
    response = city.get("/entities", params={"type": "RainGauge", "omit": "precipitation,scope"})
    assert response.status_code == 200, response.text
    assert response.json() == [
        {"id": R1, "type": "RainGauge", "station": {"type": "Property", "value": "Shinjuku"}}
    ]


def test_lang_renders_a_language_property_in_that_language(city: httpx.Client) -> None:
    response = city.get("/entities", params={"id": G1, "lang": "en"})
    assert response.status_code == 200, response.text
    name = response.json()[0]["name"]
    assert name["type"] == "Property"
    assert name["value"] == "Toyohira River"
    assert name["lang"] == "en"


def test_lang_with_key_values_gives_the_plain_string(city: httpx.Client) -> None:
    response = city.get("/entities", params={"id": G1, "lang": "ja", "options": "keyValues"})
    assert response.status_code == 200, response.text
    assert response.json()[0]["name"] == "豊平川"


def test_post_query_selects_like_the_get_binding(city: httpx.Client) -> None:
    query = {
        "type": "Query",
        "entities": [{"type": "WaterLevelGauge"}],
        "q": 'river=="Ishikari"',
        "attrs": ["river"],
    }
    response = city.post("/entityOperations/query", json=query)
    assert response.status_code == 200, response.text
    entities = response.json()
    assert {entity["id"] for entity in entities} == {G2, G3}
    assert all(set(entity) - {"scope"} == {"id", "type", "river"} for entity in entities)


@pytest.fixture
def survey(tenant_client: httpx.Client) -> httpx.Client:
    """The tenant's client, with one river survey holding list, vocab, language and DateTime values."""
    survey = {
        "id": "urn:ngsi-ld:RiverSurvey:s1",
        "type": "RiverSurvey",
        "note": {"type": "Property", "value": "bank eroded; path closed | detour"},
        "tags": {"type": "Property", "value": ["erosion", "closure"]},
        "depths": {"type": "ListProperty", "valueList": [1.2, 2.4, 3.1]},
        "category": {"type": "VocabProperty", "vocab": "inspection"},
        "title": {"type": "LanguageProperty", "languageMap": {"en": "Bank survey", "ja": "護岸調査"}},
        "surveyedAt": {"type": "Property", "value": {"@type": "DateTime", "@value": "2026-05-01T09:00:00Z"}},
        "flow": {"type": "Property", "value": 120, "unitCode": "MQS"},
    }
    response = tenant_client.post("/entities", json=survey)
    assert response.status_code == 201, response.text
    return tenant_client


@pytest.mark.parametrize(
    ("q", "matches"),
    [
        ('note=="bank eroded; path closed | detour"', True),
        ('note=="bank eroded"', False),
        ('tags=="closure"', True),
        ('tags=="flood"', False),
        ("depths==2.4", True),
        ("depths>5", False),
        ('category=="inspection"', True),
        ('title=="Bank survey"', True),
        ('title[ja]=="護岸調査"', True),
        ('title[ja]=="Bank survey"', False),
        ("surveyedAt>=2026-04-01T00:00:00Z", True),
        ("surveyedAt<2026-04-01T00:00:00Z", False),
        ('flow.unitCode=="MQS"', True),
    ],
    ids=[
        "quoted-separators",
        "quoted-prefix",
        "array-any",
        "array-none",
        "list-property",
        "list-none",
        "vocab",
        "language-any",
        "language-chosen",
        "language-other",
        "datetime-after",
        "datetime-before",
        "unit-code",
    ],
)
def test_q_matches_value_shapes_as_the_spec_says(survey: httpx.Client, q: str, matches: bool) -> None:
    expected = {"urn:ngsi-ld:RiverSurvey:s1"} if matches else set()
    assert found(survey, type="RiverSurvey", q=q) == expected


def test_query_results_carry_sys_attrs_when_asked(city: httpx.Client) -> None:
    response = city.get("/entities", params={"id": G1, "attrs": "river", "options": "sysAttrs"})
    assert response.status_code == 200, response.text
    (entity,) = response.json()
    assert {"createdAt", "modifiedAt"} <= set(entity)
    assert {"createdAt", "modifiedAt"} <= set(entity["river"])


def test_query_as_ld_json_gives_each_entity_its_context(city: httpx.Client) -> None:
    response = city.get(
        "/entities", params={"type": "WaterLevelGauge"}, headers={"Accept": "application/ld+json"}
    )
    assert response.status_code == 200, response.text
    assert response.headers["Content-Type"].startswith("application/ld+json")
    entities = response.json()
    assert len(entities) == 5
    assert all("@context" in entity for entity in entities)


def test_q_filters_on_attributes_that_attrs_does_not_project(city: httpx.Client) -> None:
    response = city.get(
        "/entities", params={"type": "WaterLevelGauge", "q": 'river=="Ishikari"', "attrs": "waterLevel"}
    )
    assert response.status_code == 200, response.text
    entities = response.json()
    assert {entity["id"] for entity in entities} == {G2, G3}
    assert all("river" not in entity for entity in entities)


def test_lang_with_several_tags_picks_the_first_available(city: httpx.Client) -> None:
    response = city.get("/entities", params={"id": G1, "lang": "fr,ja"})
    assert response.status_code == 200, response.text
    name = response.json()[0]["name"]
    assert (name["value"], name["lang"]) == ("豊平川", "ja")


def test_lang_star_keeps_every_language(city: httpx.Client) -> None:
    response = city.get("/entities", params={"id": G1, "lang": "*"})
    assert response.status_code == 200, response.text
    assert response.json()[0]["name"] == {
        "type": "LanguageProperty",
        "languageMap": {"ja": "豊平川", "en": "Toyohira River"},
    }


def test_local_true_lists_every_entity_without_other_filters(city: httpx.Client) -> None:
    response = city.get("/entities", params={"local": "true", "limit": "100"})
    assert response.status_code == 200, response.text
    assert {entity["id"] for entity in response.json()} == {G1, G2, G3, G4, M1, R1, C1}


def test_query_without_any_filter_answers_400(city: httpx.Client) -> None:
    response = city.get("/entities")
    assert response.status_code == 400, response.text
    assert response.json()["type"] == ERRORS + "BadRequestData"


def test_post_query_applies_scope_q_and_lang_from_the_body(city: httpx.Client) -> None:
    # The Query data type (clause 5.2.23) carries scopeQ and lang as members.
    query = {
        "type": "Query",
        "entities": [{"type": "WaterLevelGauge"}],
        "scopeQ": "/Hokkaido/Sapporo",
        "lang": "en",
    }
    response = city.post("/entityOperations/query", json=query)
    assert response.status_code == 200, response.text
    entities = {entity["id"]: entity for entity in response.json()}
    assert set(entities) == {G1, G2}
    assert entities[G1]["name"] == {"type": "Property", "value": "Toyohira River", "lang": "en"}
