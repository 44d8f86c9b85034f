"""PKCE: S256 only, mandatory for public clients at the authorization request."""

from __future__ import annotations

from types import SimpleNamespace

import pytest
from authlib.oauth2.rfc6749 import InvalidRequestError
from authlib.oauth2.rfc7636.challenge import compare_s256_code_challenge
from cityos_identity.browser import pkce_pair
from cityos_identity.models import Client
from cityos_identity.oauth.models import OAuthClient
from cityos_identity.oauth.provider import S256Challenge, _Payload


def _grant(confidential: bool, **params: str) -> SimpleNamespace:
    client = OAuthClient(Client(client_id="t.app", tenant="t", confidential=confidential))
    return SimpleNamespace(request=SimpleNamespace(payload=_Payload(list(params.items())), client=client))


def test_pair_matches_and_a_different_verifier_does_not() -> None:
    verifier, challenge = pkce_pair()
    assert compare_s256_code_challenge(verifier, challenge)
    assert not compare_s256_code_challenge(pkce_pair()[0], challenge)
    assert 43 <= len(verifier) <= 128


def test_public_client_without_challenge_is_refused() -> None:
    with pytest.raises(InvalidRequestError, match="PKCE is required"):
        S256Challenge().validate_code_challenge(_grant(False), "https://app/cb")


@pytest.mark.parametrize("method", ["plain", "", "S512"])
def test_only_s256_is_accepted(method: str) -> None:
    grant = _grant(False, code_challenge=pkce_pair()[1], code_challenge_method=method)
    with pytest.raises(InvalidRequestError):
        S256Challenge().validate_code_challenge(grant, "https://app/cb")


def test_s256_is_accepted_and_confidential_clients_may_skip_pkce() -> None:
    S256Challenge().validate_code_challenge(
        _grant(False, code_challenge=pkce_pair()[1], code_challenge_method="S256"), "https://app/cb"
    )
    S256Challenge().validate_code_challenge(_grant(True), "https://app/cb")


def test_malformed_challenge_is_refused() -> None:
    grant = _grant(False, code_challenge="too-short", code_challenge_method="S256")
    with pytest.raises(InvalidRequestError):
        S256Challenge().validate_code_challenge(grant, "https://app/cb")
