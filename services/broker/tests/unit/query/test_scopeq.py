"""Clause 4.19 scope queries and scope validation."""

from __future__ import annotations

import pytest
from cityos_broker.query import parse_scope_query, validate_scope
from cityos_runtime.problems import ProblemError


def test_exact_scope_example_1() -> None:
    query = parse_scope_query("/Madrid")
    assert query.matches(["/Madrid"])
    assert not query.matches(["/Madrid/Gardens"])
    assert not query.matches(["/Madridx"])


def test_hash_matches_scope_and_descendants_example_2() -> None:
    query = parse_scope_query("/Madrid/Gardens/#")
    for scope in ("/Madrid/Gardens", "/Madrid/Gardens/ParqueNorte", "/Madrid/Gardens/ParqueNorte/Parterre1"):
        assert query.matches([scope])
    assert not query.matches(["/Madrid"])
    assert not query.matches(["/Madrid/GardensX"])


def test_plus_matches_one_level_example_3() -> None:
    query = parse_scope_query("/Madrid/+/ParqueNorte")
    assert query.matches(["/Madrid/Gardens/ParqueNorte"])
    assert query.matches(["/Madrid/Sights/ParqueNorte"])
    assert not query.matches(["/Madrid/ParqueNorte"])
    assert not query.matches(["/Madrid/a/b/ParqueNorte"])


def test_slash_hash_matches_any_scoped_entity() -> None:
    query = parse_scope_query("/#")
    assert query.matches(["/anything/below"])
    assert not query.matches([])


def test_and_needs_every_scope_example_4() -> None:
    query = parse_scope_query("(/Madrid/Districts;/CompanyA)")
    assert query.matches(["/CompanyA", "/Madrid/Districts"])
    assert not query.matches(["/CompanyA"])


@pytest.mark.parametrize(
    "text", ["(/Madrid/Districts;/CompanyA)|/CompanyB", "(/Madrid/Districts;/CompanyA),/CompanyB"]
)
def test_and_or_example_5(text: str) -> None:
    query = parse_scope_query(text)
    assert query.matches(["/CompanyB"])
    assert query.matches(["/Madrid/Districts", "/CompanyA"])
    assert not query.matches(["/Madrid/Districts"])


def test_plus_then_hash() -> None:
    query = parse_scope_query("/Hokkaido/+/#")
    assert query.matches(["/Hokkaido/Sapporo"])
    assert query.matches(["/Hokkaido/Sapporo/Chuo"])
    assert not query.matches(["/Hokkaido"])


def test_unicode_scope_levels() -> None:
    assert parse_scope_query("/北海道/札幌市/#").matches(["/北海道/札幌市/中央区"])


def test_entity_without_scope_matches_nothing() -> None:
    assert not parse_scope_query("/a").matches([])


@pytest.mark.parametrize(
    ("text", "fragment"),
    [
        ("", "empty"),
        ("Madrid", "starting with '/'"),
        ("/", "scope level"),
        ("/Madrid/", "scope level"),
        ("/1abc", "scope level"),
        ("/a/#/b", "unexpected"),
        ("(/a;/b", "missing ')'"),
        ("/a|", "starting with '/'"),
        ("/a-b", "unexpected"),
    ],
)
def test_bad_scope_queries(text: str, fragment: str) -> None:
    with pytest.raises(ProblemError) as caught:
        parse_scope_query(text)
    assert caught.value.kind == "BadRequestData"
    assert fragment in caught.value.detail


@pytest.mark.parametrize("scope", ["/a", "/Madrid/Gardens", "/北海道/札幌市", "/a_1/b2"])
def test_valid_scopes(scope: str) -> None:
    validate_scope(scope)


@pytest.mark.parametrize("scope", ["", "a", "/", "/a/", "//a", "/a/#", "/a/+", "/1a", "/a b"])
def test_invalid_scopes(scope: str) -> None:
    with pytest.raises(ProblemError) as caught:
        validate_scope(scope)
    assert caught.value.kind == "BadRequestData"
