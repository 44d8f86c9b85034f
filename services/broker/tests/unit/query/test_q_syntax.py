"""Clause 4.9 logical structure (precedence, parentheses), index hints, and syntax errors."""

from __future__ import annotations

from typing import Any

import pytest
from cityos_broker.query import compile_q, parse_csf
from cityos_runtime.problems import ProblemError

D = "https://uri.etsi.org/ngsi-ld/default-context/"


def entity(**values: Any) -> dict[str, Any]:
    return {
        "id": "urn:ngsi-ld:Car:1",
        "type": [D + "Car"],
        "attrs": {D + name: [{"type": "Property", "value": v}] for name, v in values.items()},
    }


def q(text: str, ent: dict[str, Any], expand: Any) -> bool:
    return compile_q(text, expand).matches(ent)


# --- precedence ---


def test_and_binds_tighter_than_or(expand: Any) -> None:
    # a|b;c is a|(b;c): true with only a.
    assert q("a==1|b==1;c==1", entity(a=1, b=0, c=0), expand)
    assert not q("(a==1|b==1);c==1", entity(a=1, b=0, c=0), expand)


def test_or_and_with_parentheses_example_6(expand: Any) -> None:
    text = '((speed>50|rpm>3000);brandName=="Mercedes")'
    assert q(text, entity(speed=60, rpm=0, brandName="Mercedes"), expand)
    assert q(text, entity(speed=0, rpm=4000, brandName="Mercedes"), expand)
    assert not q(text, entity(speed=60, rpm=4000, brandName="Volvo"), expand)


def test_example_7(expand: Any) -> None:
    text = "(temperature>=20;temperature<=25)|capacity<=10"
    assert q(text, entity(temperature=22, capacity=50), expand)
    assert q(text, entity(temperature=30, capacity=5), expand)
    assert not q(text, entity(temperature=30, capacity=50), expand)


def test_whitespace_is_tolerated(expand: Any) -> None:
    assert q(' ( speed > 50 ; brandName == "Mercedes" ) ', entity(speed=60, brandName="Mercedes"), expand)


def test_and_with_missing_attribute_fails(expand: Any) -> None:
    assert not q("speed>50;rpm", entity(speed=60), expand)


# --- index hints ---


def test_attribute_iris_lists_every_top_level_attribute(expand: Any) -> None:
    expr = compile_q("a.b==1|(c[x]==2;d.observedAt>2020-01-01T00:00:00Z)", expand)
    assert expr.attribute_iris() == {D + "a", D + "c", D + "d"}


def test_required_iris_of_and_chain(expand: Any) -> None:
    assert compile_q("a==1;b!=2;c", expand).required_iris() == {D + "a", D + "b", D + "c"}


def test_required_iris_of_or_is_what_every_branch_needs(expand: Any) -> None:
    assert compile_q("(a==1;b==2)|(a==3;c==4)", expand).required_iris() == {D + "a"}
    assert compile_q("a==1|b==2", expand).required_iris() == frozenset()


def test_numeric_ranges_of_and_chain(expand: Any) -> None:
    expr = compile_q('temperature>=10;temperature<30;level==2..5;name=="x"', expand)
    assert expr.numeric_ranges() == {D + "temperature": (10, 30), D + "level": (2, 5)}


def test_numeric_ranges_ignore_or_and_non_plain_paths(expand: Any) -> None:
    assert compile_q("a>1|b<2", expand).numeric_ranges() == {}
    assert compile_q("a.b>1;c[x]<2;d.observedAt>2020-01-01T00:00:00Z", expand).numeric_ranges() == {}
    assert compile_q("x>5;(a>1|b<2)", expand).numeric_ranges() == {D + "x": (5, None)}


def test_numeric_ranges_value_list(expand: Any) -> None:
    assert compile_q("level==3,1,7", expand).numeric_ranges() == {D + "level": (1, 7)}


# --- errors ---


def _error(text: str, expand: Any) -> ProblemError:
    with pytest.raises(ProblemError) as caught:
        compile_q(text, expand)
    assert caught.value.status == 400
    return caught.value


@pytest.mark.parametrize(
    ("text", "position", "fragment"),
    [
        ("", 0, "empty"),
        ("speed>>3", 6, "invalid value"),
        ("speed>", 6, "missing value"),
        ("(speed>3", 8, "missing ')'"),
        ("speed>3)", 7, "unbalanced ')'"),
        ("speed>3;", 8, "attribute name"),
        ("speed 3", 6, "expected an operator"),
        ("3speed>1", 0, "attribute name"),
        ('name=="abc', 6, "unterminated"),
        ("speed>1,2", 6, "value list"),
        ("speed>1..2", 6, "range"),
        ("speed==1..2..3", 7, "one '..'"),
        ('speed==1.."b"', 7, "one type"),
        ("speed>true", 6, "needs a number"),
        ("speed==1,,2", 9, "empty value"),
        ('name~="[a-"', 6, "regular expression"),
        ("name~=(unclosed", 6, "regular expression"),
        ("a.observedAt.b==1", 0, "last name"),
        ("a.observedAt[x]==1", 0, "no members"),
        ("a[]==1", 2, "member name"),
        ("a[b==1", 3, "missing ']'"),
        ("speed==2026-13-45T00:00:00Z", 7, "DateTime"),
        ("speed==@@", 7, "invalid value"),
    ],
)
def test_syntax_errors_name_problem_and_position(
    text: str, position: int, fragment: str, expand: Any
) -> None:
    error = _error(text, expand)
    assert error.kind == "BadRequestData"
    assert f"position {position}" in error.detail
    assert fragment in error.detail


def test_linked_entity_paths_are_not_supported(expand: Any) -> None:
    with pytest.raises(ProblemError) as caught:
        compile_q("sensor{humidity}==40", expand)
    assert caught.value.kind == "OperationNotSupported"


def test_too_deep_nesting_is_rejected(expand: Any) -> None:
    error = _error("(" * 40 + "a" + ")" * 40, expand)
    assert "nested deeper" in error.detail


def test_overlong_expression_is_rejected(expand: Any) -> None:
    assert "longer than" in _error("a==1;" * 4000 + "a==1", expand).detail


def test_csf_uses_the_same_grammar_and_names_itself(expand: Any) -> None:
    expr = parse_csf('provider=="Sapporo";coverage>10', expand)
    assert expr.attribute_iris() == {D + "provider", D + "coverage"}
    with pytest.raises(ProblemError) as caught:
        parse_csf("provider==", expand)
    assert "invalid csf" in caught.value.detail


def test_number_with_too_many_digits_is_a_bad_request(expand: Any) -> None:
    assert "number too long" in _error("a==" + "1" * 5000, expand).detail


def test_infinite_number_is_a_bad_request(expand: Any) -> None:
    assert "out of range" in _error("a==1e999", expand).detail


def test_error_detail_quotes_input_safely_and_briefly(expand: Any) -> None:
    error = _error('a=="\ud800"', expand)
    error.to_json()  # a lone surrogate in the input must not break the ProblemDetails encoding
    long_error = _error("a==1;" * 100 + "a==", expand)
    assert len(long_error.detail) < 400


def test_terms_are_expanded_once_at_compile_time_not_per_entity() -> None:
    calls: list[str] = []

    def counting(term: str) -> str:
        calls.append(term)
        return D + term

    expr = compile_q('speed>50;category==Park;sensor.quality=="good"', counting)
    compiled = len(calls)
    for _ in range(100):
        expr.matches(entity(speed=60, category="Park"))
    assert len(calls) == compiled
