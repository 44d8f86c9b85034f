"""Percentile math, round combination and the loopback-only rule (no sockets)."""

import pytest

from loadtests.bench import figures as F
from loadtests.bench.loadgen import LoadResult, loopback_target
from loadtests.bench.stats import median, percentile


def test_nearest_rank_percentiles_are_observed_values():
    values = [float(v) for v in range(1, 101)]
    assert percentile(values, 50) == 50
    assert percentile(values, 95) == 95
    assert percentile(values, 99) == 99
    assert percentile(values, 100) == 100
    assert percentile(values, 0) == 1
    assert percentile([1.0, 2.0, 3.0, 4.0], 50) == 2
    assert percentile([7.0], 99) == 7
    assert percentile([], 99) == 0


def test_percentile_out_of_range_raises():
    with pytest.raises(ValueError):
        percentile([1.0], 101)


def test_median():
    assert median([3.0, 1.0, 2.0]) == 2
    assert median([4.0, 1.0, 3.0, 2.0]) == 2.5
    assert median([]) == 0


@pytest.mark.parametrize(
    "url", ["http://127.0.0.1:8080", "http://localhost:1", "http://[::1]:9", "http://127.3.2.1:5"]
)
def test_loopback_targets_are_accepted(url):
    host, port = loopback_target(url)
    assert port > 0 and host


@pytest.mark.parametrize(
    "url",
    [
        "http://10.0.0.1:80",
        "http://192.168.1.2:80",
        "http://example.com:80",
        "https://127.0.0.1:443",
        "http://127.0.0.1",
    ],
)
def test_other_targets_are_refused(url):
    with pytest.raises(ValueError):
        loopback_target(url)


def result(ok: int, elapsed: float, latencies: tuple[float, ...], statuses: dict[int, int]) -> LoadResult:
    count = sum(statuses.values())
    return LoadResult(count, ok, count - ok, 0, 0, elapsed, latencies, statuses, ())


def test_combine_takes_the_median_round_and_pools_latencies():
    spec = F.FigureSpec("x", "x", min_rate=100, max_p99_ms=50)
    rounds = [
        result(100, 1.0, (1.0, 2.0), {200: 100}),
        result(300, 1.0, (3.0,), {200: 300}),
        result(200, 1.0, (4.0, 60.0), {200: 200}),
    ]
    figure = F.combine(spec, rounds, connections=8)
    assert figure.rate == 200
    assert figure.count == 600
    assert figure.p50_ms == 3.0
    assert figure.p99_ms == 60.0
    assert figure.met is False  # p99 of 60 ms misses the 50 ms target


def test_partial_success_counts_as_error_and_not_as_work():
    spec = F.batch_spec("b", "b", batch_size=10)
    figure = F.combine(spec, [result(10, 1.0, (1.0,) * 10, {201: 8, 207: 2})], connections=1)
    assert figure.rate == 80  # 8 fully successful batches of 10 in one second
    assert figure.errors == 2
    assert figure.met is False


def test_overhead_is_the_ratio_of_rates():
    upsert = F.combine(F.UPSERT, [result(300, 1.0, (1.0,), {204: 300})], 1)
    base = F.combine(F.BASELINE, [result(500, 1.0, (1.0,), {204: 500})], 1)
    overhead = F.overhead_figure(upsert, base)
    assert overhead.rate == pytest.approx(0.6)
    assert overhead.met is True


def test_unavailable_figures_say_why_and_carry_no_number():
    for spec in (F.TEMPORAL, F.notify_spec(10), *F.temporal_many_specs(1000)):
        figure = F.unavailable(spec, "the stack has no temporal store")
        assert not figure.implemented
        assert figure.rate is None and figure.met is None
        assert figure.note == "n/a — the stack has no temporal store"
        assert figure.key == spec.key and figure.target == spec.target
