"""Property tests: arbitrary input never raises anything but ProblemError, and evaluation never raises."""

from __future__ import annotations

from typing import Any

from cityos_broker.query import (
    compile_q,
    parse_geo_query,
    parse_scope_query,
    parse_type_expression,
    validate_scope,
)
from cityos_runtime.problems import ProblemError
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

D = "https://uri.etsi.org/ngsi-ld/default-context/"


def expand_term(term: str) -> str:
    return term if ":" in term else D + term


# Text biased towards the languages' own punctuation, so the parsers get deep, not just rejected early.
_ALPHABET = st.sampled_from([*"abcAB_12.,;|()[]{}\"\\=!<>~#/+-: *Z'T", "..", "==", "!~=", "é", "札"])
syntax_text = st.lists(_ALPHABET, max_size=40).map("".join)
json_values: Any = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False) | st.text(max_size=5),
    lambda inner: (
        st.lists(inner, max_size=3) | st.dictionaries(st.sampled_from(["a", "b", "value"]), inner, max_size=3)
    ),
    max_leaves=8,
)
FUZZ = settings(max_examples=300, deadline=None, database=None, suppress_health_check=[HealthCheck.too_slow])


def _only_problem_errors(call: Any, *args: Any) -> Any:
    try:
        return call(*args)
    except ProblemError as error:
        assert error.status in (400, 403, 422)
        return None


@FUZZ
@given(st.one_of(syntax_text, st.text(max_size=40)))
def test_q_parser_raises_only_problem_errors(text: str) -> None:
    _only_problem_errors(compile_q, text, expand_term)


@FUZZ
@given(st.one_of(syntax_text, st.text(max_size=40)))
def test_type_parser_raises_only_problem_errors(text: str) -> None:
    _only_problem_errors(parse_type_expression, text, expand_term)


@FUZZ
@given(st.one_of(syntax_text, st.text(max_size=40)))
def test_scope_parser_raises_only_problem_errors(text: str) -> None:
    _only_problem_errors(parse_scope_query, text)
    _only_problem_errors(validate_scope, text)


@FUZZ
@given(
    st.one_of(syntax_text, st.text(max_size=20)),
    st.sampled_from(["Point", "Polygon", "LineString", "X"]),
    json_values,
)
def test_geo_parser_raises_only_problem_errors(georel: str, geometry: str, coordinates: Any) -> None:
    _only_problem_errors(parse_geo_query, georel, geometry, coordinates, "", expand_term)


@FUZZ
@given(
    st.sampled_from(
        [
            "a",
            "a==1",
            "a!=1..5",
            'a~="x"',
            "a!~=y",
            "a>2026-01-01T00:00:00Z",
            "a<=12:00",
            "a==2020-01-01",
            "a[b.c]==true",
            "a.b==x,y",
            "a.observedAt<2026-01-01T00:00:00Z",
            "a[*]==z",
        ]
    ),
    st.sampled_from(
        ["Property", "Relationship", "LanguageProperty", "VocabProperty", "ListProperty", "Other"]
    ),
    json_values,
)
def test_evaluation_never_raises_on_any_stored_value(query: str, kind: str, value: Any) -> None:
    member = {
        "Property": "value",
        "Relationship": "object",
        "LanguageProperty": "languageMap",
        "VocabProperty": "vocab",
        "ListProperty": "valueList",
    }.get(kind, "value")
    instance = {
        "type": kind,
        member: value,
        "observedAt": value,
        "attrs": {D + "b": {"type": "Property", "value": value}},
    }
    entity = {"id": "urn:x:1", "type": [D + "T"], "attrs": {D + "a": [instance]}}
    assert compile_q(query, expand_term).matches(entity) in (True, False)


_numbers = st.one_of(st.floats(-200, 200, allow_nan=False), st.integers(-200, 200), st.booleans())
_positions = st.lists(_numbers, min_size=0, max_size=4)
coordinates = st.one_of(
    _positions,
    st.lists(_positions, max_size=6),
    st.lists(st.lists(_positions, max_size=6), max_size=3),
    st.lists(st.lists(st.lists(_positions, max_size=6), max_size=2), max_size=2),
)
geometry_types = st.sampled_from(
    ["Point", "MultiPoint", "LineString", "MultiLineString", "Polygon", "MultiPolygon", "GeometryCollection"]
)


@FUZZ
@given(geometry_types, coordinates, geometry_types, coordinates)
def test_geometries_raise_only_problem_errors_and_never_fail_matching(
    ref_type: str, ref_coords: Any, target_type: str, target_coords: Any
) -> None:
    for georel in ("intersects", "within", "near;maxDistance==1000", "near;minDistance==10", "overlaps"):
        query = _only_problem_errors(parse_geo_query, georel, ref_type, ref_coords, "", expand_term)
        if query is not None:
            assert query.matches({"type": target_type, "coordinates": target_coords}) in (True, False)
