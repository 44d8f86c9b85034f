"""`cityos-dev run` as a user runs it: starts, seeds, answers the printed curl commands, stops, keeps data."""

from __future__ import annotations

import os
import re
import signal
import socket
import subprocess
import sys
import uuid
from datetime import UTC, datetime
from pathlib import Path

import httpx
import pytest
import redis
from cityos_devtools.launcher import LaunchedStack, StackStartError
from cityos_devtools.seed import seed

_CURL = re.compile(r"curl -sS '(?P<url>[^']+)' -H 'NGSILD-Tenant: (?P<tenant>[^']+)'")


def _start(data_dir: Path, *, seed: bool = True) -> LaunchedStack:
    try:
        return LaunchedStack(data_dir, seed=seed).start()
    except StackStartError as exc:
        pytest.fail(f"cityos-dev run did not start:\n{exc}", pytrace=False)


def _stop(launched: LaunchedStack, sig: signal.Signals = signal.SIGINT) -> None:
    code = launched.interrupt(sig=sig)
    assert code == 0, (
        f"{sig.name} should stop cityos-dev with exit code 0, got {code}\n{launched.diagnostics()}"
    )


def _assert_all_stopped(launched: LaunchedStack) -> None:
    with pytest.raises(httpx.ConnectError):
        httpx.get(f"{launched.gateway_url}/healthz", timeout=2.0)
    with pytest.raises(redis.ConnectionError), redis.Redis.from_url(launched.ready["redis_url"]) as client:
        client.ping()
    with pytest.raises(httpx.ConnectError):
        httpx.get(f"http://{launched.ready['s3_endpoint']}/", timeout=2.0)


def _ids(response: httpx.Response) -> set[str]:
    assert response.status_code == 200, response.text
    return {entity["id"] for entity in response.json()}


def test_run_seeds_answers_the_printed_curls_stops_cleanly_and_keeps_data(tmp_path: Path) -> None:
    extra_id = f"urn:ngsi-ld:WaterLevelGauge:e2e-{uuid.uuid4().hex[:12]}"
    first = _start(tmp_path / "data")
    try:
        with httpx.Client(timeout=10.0) as http:
            assert http.get(f"{first.gateway_url}/readyz").status_code == 200

            output = first.output()
            assert first.gateway_url in output
            assert str(first.data_dir / "logs" / "gateway.log") in output
            curls = [match.groupdict() for match in _CURL.finditer(output)]
            assert len(curls) == 2, output
            above_2m = _ids(http.get(curls[0]["url"], headers={"NGSILD-Tenant": curls[0]["tenant"]}))
            assert above_2m == {"urn:ngsi-ld:WaterLevelGauge:sapporo-toyohira-01"}
            nearby = _ids(http.get(curls[1]["url"], headers={"NGSILD-Tenant": curls[1]["tenant"]}))
            assert "urn:ngsi-ld:EvacuationShelter:sapporo-nakajima-park" in nearby
            assert "urn:ngsi-ld:WaterLevelGauge:sapporo-shinkawa-01" not in nearby  # ~6 km away

            created = http.post(
                f"{first.gateway_url}/ngsi-ld/v1/entities",
                json={
                    "id": extra_id,
                    "type": "WaterLevelGauge",
                    "waterLevel": {"type": "Property", "value": 0.5},
                },
                headers={"NGSILD-Tenant": "otaru"},
            )
            assert created.status_code == 201, created.text

        # Seeding again (as every run does) is idempotent: an upsert of existing entities.
        with httpx.Client(base_url=first.gateway_url + "/ngsi-ld/v1", timeout=10.0) as api:
            counts = seed(api, datetime.now(UTC))
        assert counts == {"hokkaido": 1, "sapporo": 7, "otaru": 4}
    finally:
        _stop(first)
    assert not first.ready_file.exists(), "the ready file should be removed on exit"
    _assert_all_stopped(first)

    # Second run on the same data folder, without seeding: everything from the first run is still there.
    # It is stopped with SIGTERM, as a process manager would.
    second = _start(tmp_path / "data", seed=False)
    try:
        with httpx.Client(base_url=second.gateway_url + "/ngsi-ld/v1", timeout=10.0) as api:
            extra = api.get(f"/entities/{extra_id}", headers={"NGSILD-Tenant": "otaru"})
            assert extra.status_code == 200, extra.text
            assert extra.json()["waterLevel"]["value"] == 0.5
            shelters = api.get(
                "/entities", params={"type": "EvacuationShelter"}, headers={"NGSILD-Tenant": "otaru"}
            )
            assert _ids(shelters) == {
                "urn:ngsi-ld:EvacuationShelter:otaru-general-gym",
                "urn:ngsi-ld:EvacuationShelter:otaru-canal-plaza",
            }
    finally:
        _stop(second, signal.SIGTERM)
    _assert_all_stopped(second)


def test_a_service_failing_at_start_up_shows_its_log_and_exits_non_zero(tmp_path: Path) -> None:
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        done = subprocess.run(
            [
                sys.executable,
                "-m",
                "cityos_devtools",
                "run",
                "--data-dir",
                str(tmp_path),
                "--gateway-port",
                str(port),
            ],
            env={k: v for k, v in os.environ.items() if not k.startswith(("REDIS_", "S3_"))},
            capture_output=True,
            text=True,
            timeout=90,
        )
    assert done.returncode == 1, done.stdout + done.stderr
    assert "start-up failed: gateway exited with code" in done.stdout
    assert str(tmp_path / "logs" / "gateway.log") in done.stdout
    assert "address already in use" in done.stdout.lower(), "the tail of the gateway's log is shown"
    assert "City OS is running" not in done.stdout
