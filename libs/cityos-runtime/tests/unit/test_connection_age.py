"""ConnectionAge: the server's maximum connection age from the environment, as grpc.aio options."""

from __future__ import annotations

import pytest
from cityos_runtime.config import ConfigError
from cityos_runtime.grpc_server import ConnectionAge


def test_defaults_bound_the_age_to_five_minutes_with_a_grace() -> None:
    age = ConnectionAge.from_env(environ={})
    assert age == ConnectionAge(max_age=300.0, grace=30.0)
    assert dict(age.options()) == {
        "grpc.max_connection_age_ms": 300_000,
        "grpc.max_connection_age_grace_ms": 30_000,
    }


def test_values_in_seconds() -> None:
    age = ConnectionAge.from_env(
        environ={"GRPC_MAX_CONNECTION_AGE": "60", "GRPC_MAX_CONNECTION_AGE_GRACE": "2.5"}
    )
    assert dict(age.options()) == {
        "grpc.max_connection_age_ms": 60_000,
        "grpc.max_connection_age_grace_ms": 2_500,
    }


def test_zero_turns_the_bound_off() -> None:
    age = ConnectionAge.from_env(
        environ={"GRPC_MAX_CONNECTION_AGE": "0", "GRPC_MAX_CONNECTION_AGE_GRACE": "0"}
    )
    assert age.options() == ()


@pytest.mark.parametrize(
    ("environ", "named"),
    [
        ({"GRPC_MAX_CONNECTION_AGE": "-1"}, "GRPC_MAX_CONNECTION_AGE"),
        ({"GRPC_MAX_CONNECTION_AGE": "five minutes"}, "GRPC_MAX_CONNECTION_AGE"),
        ({"GRPC_MAX_CONNECTION_AGE_GRACE": "-3"}, "GRPC_MAX_CONNECTION_AGE_GRACE"),
        ({"GRPC_MAX_CONNECTION_AGE_GRACE": "0"}, "GRPC_MAX_CONNECTION_AGE_GRACE"),
    ],
)
def test_bad_values_name_the_variable(environ: dict[str, str], named: str) -> None:
    with pytest.raises(ConfigError, match=named):
        ConnectionAge.from_env(environ=environ)
