"""scrypt password hashes: round trip, wrong passwords, malformed hashes, cost upgrades, policy."""

from __future__ import annotations

import pytest
from cityos_identity.passwords import PasswordHasher, ScryptParams, check_password_policy
from cityos_runtime.problems import ProblemError

CHEAP = ScryptParams(n=2**8, r=8, p=1)


def test_default_cost_is_memory_hard() -> None:
    params = ScryptParams()
    assert params.n * params.r * 128 >= 32 * 1024 * 1024  # at least 32 MiB per hash
    stored = PasswordHasher().hash("production cost check")
    assert stored.startswith("scrypt$32768$8$1$")
    assert PasswordHasher().verify(stored, "production cost check")


def test_round_trip_and_wrong_password() -> None:
    hasher = PasswordHasher(CHEAP)
    stored = hasher.hash("correct horse battery")
    assert hasher.verify(stored, "correct horse battery")
    assert not hasher.verify(stored, "correct horse batterY")
    assert "correct horse" not in stored


def test_salts_differ() -> None:
    hasher = PasswordHasher(CHEAP)
    assert hasher.hash("same password!") != hasher.hash("same password!")


@pytest.mark.parametrize(
    "stored", ["", "plain", "bcrypt$1$2$3$4$5", "scrypt$x$8$1$AA$AA", "scrypt$256$8$1$AA"]
)
def test_malformed_hashes_never_match(stored: str) -> None:
    assert not PasswordHasher(CHEAP).verify(stored, "anything at all")


def test_old_parameters_still_verify_and_ask_for_rehash() -> None:
    old = PasswordHasher(CHEAP).hash("upgrade me please")
    current = PasswordHasher(ScryptParams(n=2**9, r=8, p=1))
    assert current.verify(old, "upgrade me please")
    assert current.needs_rehash(old)
    assert not current.needs_rehash(current.hash("upgrade me please"))


def test_policy() -> None:
    check_password_policy("ten chars!")
    for bad in ("short", "x" * 1025):
        with pytest.raises(ProblemError) as error:
            check_password_policy(bad)
        assert error.value.status == 400
