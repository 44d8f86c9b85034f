"""`cityos-dev run` argument handling (no processes started)."""

from pathlib import Path

import pytest
from cityos_devtools.cli import parse_run_options


def test_defaults_use_dot_data_port_8080_and_seeding() -> None:
    options = parse_run_options(["run"], environ={})
    assert options.data_dir == Path(".data")
    assert options.gateway_port == 8080
    assert options.seed is True
    assert options.ready_file is None
    assert options.auth == "oidc", "secure by default: tokens are required"


def test_data_dir_defaults_to_cityos_data_dir() -> None:
    assert parse_run_options(["run"], environ={"CITYOS_DATA_DIR": "/srv/city"}).data_dir == Path("/srv/city")


def test_empty_cityos_data_dir_falls_back_to_dot_data() -> None:
    assert parse_run_options(["run"], environ={"CITYOS_DATA_DIR": ""}).data_dir == Path(".data")


def test_every_option_is_read() -> None:
    options = parse_run_options(
        [
            "run",
            "--data-dir",
            "d",
            "--gateway-port",
            "0",
            "--no-seed",
            "--ready-file",
            "r.json",
            "--auth",
            "open",
            "--broker-replicas",
            "2",
            "--broker-workers",
        ],
        environ={"CITYOS_DATA_DIR": "ignored"},
    )
    assert options.broker_replicas == 2
    assert options.broker_workers is True
    assert options.data_dir == Path("d")
    assert options.gateway_port == 0
    assert options.seed is False
    assert options.ready_file == Path("r.json")
    assert options.auth == "open"


def test_unknown_auth_mode_exits_with_usage_error(capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit) as exited:
        parse_run_options(["run", "--auth", "none"], environ={})
    assert exited.value.code == 2


@pytest.mark.parametrize("port", ["-1", "65536", "http", "8080.5"])
def test_bad_gateway_port_exits_with_usage_error(port: str, capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit) as exited:
        parse_run_options(["run", "--gateway-port", port], environ={})
    assert exited.value.code == 2
    assert "--gateway-port" in capsys.readouterr().err


def test_a_command_is_required(capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit) as exited:
        parse_run_options([], environ={})
    assert exited.value.code == 2
    assert "COMMAND" in capsys.readouterr().err


def test_unknown_option_is_refused() -> None:
    with pytest.raises(SystemExit) as exited:
        parse_run_options(["run", "--gateway", "80"], environ={})
    assert exited.value.code == 2


@pytest.mark.parametrize("count", ["0", "9", "two"])
def test_bad_broker_replicas_exit_with_usage_error(count: str, capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit) as exited:
        parse_run_options(["run", "--broker-replicas", count], environ={})
    assert exited.value.code == 2
    assert "--broker-replicas" in capsys.readouterr().err
