"""Clause 4.17 entity type selection: OR with | and ',', AND with ';', parentheses, DNF for the store."""

from __future__ import annotations

from typing import Any

import pytest
from cityos_broker.query import parse_type_expression
from cityos_runtime.problems import ProblemError

D = "https://uri.etsi.org/ngsi-ld/default-context/"


def types(*names: str) -> list[str]:
    return [D + name for name in names]


def test_single_type(expand: Any) -> None:
    expr = parse_type_expression("Building", expand)
    assert expr.matches(types("Building"))
    assert expr.matches(types("House", "Building"))
    assert not expr.matches(types("House"))


@pytest.mark.parametrize("text", ["Building|House", "Building,House", " Building , House "])
def test_or_with_bar_or_comma(text: str, expand: Any) -> None:
    expr = parse_type_expression(text, expand)
    assert expr.matches(types("House"))
    assert expr.matches(types("Building"))
    assert not expr.matches(types("Vehicle"))


def test_and_in_parentheses_example_2(expand: Any) -> None:
    expr = parse_type_expression("(Home;Vehicle)", expand)
    assert expr.matches(types("Home", "Vehicle"))
    assert not expr.matches(types("Home"))


def test_and_or_combination_example_3(expand: Any) -> None:
    for text in ("(Home;Vehicle)|Motorhome", "(Home;Vehicle),Motorhome"):
        expr = parse_type_expression(text, expand)
        assert expr.matches(types("Motorhome"))
        assert expr.matches(types("Vehicle", "Home"))
        assert not expr.matches(types("Vehicle"))
        assert expr.dnf() == [frozenset(types("Motorhome")), frozenset(types("Home", "Vehicle"))]


def test_and_without_parentheses_binds_tighter(expand: Any) -> None:
    expr = parse_type_expression("A;B|C", expand)
    assert sorted(map(sorted, expr.dnf())) == [[D + "A", D + "B"], [D + "C"]]


def test_dnf_distributes_and_over_or(expand: Any) -> None:
    expr = parse_type_expression("(A|B);(C|D)", expand)
    assert sorted(sorted(c) for c in expr.dnf()) == sorted(
        sorted(types(*pair)) for pair in (("A", "C"), ("A", "D"), ("B", "C"), ("B", "D"))
    )


def test_dnf_drops_implied_conjunctions(expand: Any) -> None:
    expr = parse_type_expression("A|(A;B)|A", expand)
    assert expr.dnf() == [frozenset(types("A"))]


def test_uri_types_pass_through(expand: Any) -> None:
    expr = parse_type_expression("https://smartdatamodels.org/dataModel.Environment/WaterLevelGauge", expand)
    assert expr.type_iris() == {"https://smartdatamodels.org/dataModel.Environment/WaterLevelGauge"}


def test_terms_are_expanded(expand: Any) -> None:
    assert parse_type_expression("Building|ex:House", expand).type_iris() == {D + "Building", "ex:House"}


def test_matches_accepts_any_iterable(expand: Any) -> None:
    assert parse_type_expression("A;B", expand).matches(iter(types("A", "B")))


@pytest.mark.parametrize(
    ("text", "fragment"),
    [
        ("", "empty"),
        ("A|", "expected an entity type"),
        ("(A;B", "missing ')'"),
        ("A)", "unbalanced ')'"),
        ("A;;B", "expected an entity type"),
        ("1Building", "neither a valid type name nor a URI"),
        ("A B", "unexpected"),
    ],
)
def test_bad_type_expressions(text: str, fragment: str, expand: Any) -> None:
    with pytest.raises(ProblemError) as caught:
        parse_type_expression(text, expand)
    assert caught.value.kind == "BadRequestData"
    assert fragment in caught.value.detail
    assert "position" in caught.value.detail


def test_exploding_dnf_is_too_complex(expand: Any) -> None:
    text = ";".join(f"(A{i}|B{i})" for i in range(10))  # 1024 conjunctions
    with pytest.raises(ProblemError) as caught:
        parse_type_expression(text, expand)
    assert caught.value.kind == "TooComplexQuery"
