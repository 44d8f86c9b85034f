"""`python -m loadtests.bench --smoke` runs against the real stack and writes every report.

It checks that the instruments work, never how fast anything is: no figure is compared to a target here.
"""

import json
import subprocess
import sys
from pathlib import Path

import pytest

REPO_ROOT = Path(__file__).resolve().parents[2]
IMPLEMENTED = {
    "upsert_single",
    "patch_attrs",
    "batch_upsert",
    "batch_load",
    "get_by_id",
    "query_type_q",
    "query_type_q_count",
    "baseline",
    "notifications_1",
    "notifications_2",
    "temporal",
    "temporal_query",
    "temporal_query_many",
    "temporal_aggregation_many",
}

pytestmark = pytest.mark.e2e


@pytest.mark.timeout(600)
def test_smoke_bench_prints_the_table_and_writes_json_and_png(tmp_path):
    out = tmp_path / "reports"
    proc = subprocess.run(
        [sys.executable, "-m", "loadtests.bench", "--smoke", "--brokers", "1,2", "--out", str(out)],
        cwd=REPO_ROOT,
        capture_output=True,
        text=True,
        timeout=540,
        check=False,
    )
    assert proc.returncode == 0, proc.stdout[-3000:] + proc.stderr[-3000:]
    assert "figure" in proc.stdout and "median rate" in proc.stdout
    assert "broker" in proc.stdout and "gateway" in proc.stdout

    report = json.loads((out / "bench.json").read_text())
    figures = {f["key"]: f for f in report["figures"]}
    assert set(figures) == IMPLEMENTED | {"gateway_overhead"}
    for key in IMPLEMENTED:
        figure = figures[key]
        assert figure["implemented"], key
        assert figure["rate"] > 0, key
        assert figure["count"] > 0, key
        assert figure["p50_ms"] > 0 and figure["p99_ms"] >= figure["p50_ms"], key
    assert figures["gateway_overhead"]["rate"] > 0
    assert report["processes"]["broker"] == 1 and report["processes"]["gateway"] >= 1
    # --brokers 1,2: the same figures again in a fresh stack with two broker processes, side by side.
    assert set(report["brokers"]) == {"1", "2"}
    two = {f["key"]: f for f in report["brokers"]["2"]}
    assert all(two[key]["rate"] > 0 for key in ("upsert_single", "get_by_id")), two
    assert "broker processes (200 entities, one fresh stack each)" in proc.stdout
    assert "2 brokers" in proc.stdout and "broker-2" in proc.stdout

    png = (out / "bench.png").read_bytes()
    assert png.startswith(b"\x89PNG\r\n\x1a\n") and len(png) > 10_000
