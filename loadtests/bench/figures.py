"""The figures of ARCHITECTURE.md section 6: their targets, how one is measured, and the result row."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import asdict, dataclass, field
from heapq import merge
from typing import Any

from loadtests.bench.loadgen import LoadResult, RequestFactory, run_load
from loadtests.bench.stats import median, percentile


@dataclass(frozen=True)
class FigureSpec:
    """What a figure measures, in which unit, and the target it is judged against."""

    key: str
    title: str
    unit: str = "req/s"
    items_per_request: int = 1
    target: str = "—"
    min_rate: float | None = None
    max_p95_ms: float | None = None
    max_p99_ms: float | None = None


UPSERT = FigureSpec(
    "upsert_single",
    "single upsert (POST entityOperations/upsert, 1 entity)",
    target="≥ 2,500/s, p99 < 50 ms",
    min_rate=2500,
    max_p99_ms=50,
)
PATCH = FigureSpec(
    "patch_attrs",
    "attribute update (PATCH /entities/{id}/attrs)",
    target="≥ 2,500/s, p99 < 50 ms",
    min_rate=2500,
    max_p99_ms=50,
)
GET = FigureSpec("get_by_id", "GET entity by id", target="≥ 4,000/s", min_rate=4000)
QUERY = FigureSpec(
    "query_type_q", "query by type + q (waterLevel > X)", target="p95 < 100 ms", max_p95_ms=100
)
QUERY_COUNT = FigureSpec(
    "query_type_q_count",
    "query by type + q with count=true (NGSILD-Results-Count)",
    target="p95 < 100 ms",
    max_p95_ms=100,
)


def notify_spec(subscribers: int) -> FigureSpec:
    """The notification figure for `subscribers` subscriptions to the same entities (1 and 10 by default)."""
    return FigureSpec(
        f"notifications_{subscribers}",
        f"notifications, {subscribers} subscriber{'s' if subscribers != 1 else ''} (PATCH sent → delivered)",
        unit="notifications/s",
        target="p99 < 25 ms; ≥ 2,000 notifications/s",
        min_rate=2000,
        max_p99_ms=25,
    )


TEMPORAL = FigureSpec(
    "temporal",
    "temporal aggregation, 1 entity, 1 day of 1-min data",
    target="p95 < 200 ms",
    max_p95_ms=200,
)
TEMPORAL_QUERY = FigureSpec("temporal_query", "temporal query, 1 entity, 1 day of 1-min data (1,440 values)")


def temporal_many_specs(entities: int) -> tuple[FigureSpec, FigureSpec]:
    """The temporal query and aggregation over `entities` entities with an hour of 1-minute data each."""
    return (
        FigureSpec(
            "temporal_query_many",
            f"temporal query, {entities:,} entities x 1 h of 1-min data (lastN=10 each)",
        ),
        FigureSpec(
            "temporal_aggregation_many",
            f"temporal aggregation, {entities:,} entities x 1 h of 1-min data (avg/min/max per 10 min)",
        ),
    )


BASELINE = FigureSpec("baseline", "bare pipeline: uvicorn → grpc.aio → Redis (same body)")
OVERHEAD_TARGET = 0.5


def batch_spec(key: str, title: str, batch_size: int) -> FigureSpec:
    """A batch figure, counted in entities per second."""
    return FigureSpec(key, title, "entities/s", batch_size, "≥ 20,000 entities/s", min_rate=20000)


@dataclass
class Figure:
    """One measured (or not yet measurable) figure, as printed and written to bench.json."""

    key: str
    title: str
    unit: str
    implemented: bool
    target: str
    target_rate: float | None = None  # the minimum rate of the target, for the chart
    rate: float | None = None  # median over rounds, in `unit`
    round_rates: list[float] = field(default_factory=list)
    count: int = 0
    errors: int = 0
    transport_errors: int = 0
    timeouts: int = 0
    p50_ms: float | None = None
    p95_ms: float | None = None
    p99_ms: float | None = None
    connections: int = 0
    met: bool | None = None
    ratio_to_baseline: float | None = None
    status_counts: dict[str, int] = field(default_factory=dict)
    error_samples: list[str] = field(default_factory=list)
    cpu_cores: dict[str, float] = field(default_factory=dict)  # cores each process used meanwhile
    note: str = ""

    def to_json(self) -> dict[str, Any]:
        """A plain dict for bench.json."""
        return asdict(self)


def unavailable(spec: FigureSpec, reason: str) -> Figure:
    """A figure the running stack cannot measure: shown with the reason, never faked."""
    return Figure(spec.key, spec.title, spec.unit, False, spec.target, note=f"n/a — {reason}")


def combine(spec: FigureSpec, results: Sequence[LoadResult], connections: int) -> Figure:
    """One figure from its rounds: the median round rate, and percentiles over every request."""
    latencies = list(merge(*(r.latencies_ms for r in results)))
    statuses: dict[str, int] = {}
    for result in results:
        for status, n in result.status_counts.items():
            statuses[str(status)] = statuses.get(str(status), 0) + n
    # 207 Multi-Status is a 2xx whose body lists failed entities: it counts as an error, not as done work.
    partial = [r.status_counts.get(207, 0) for r in results]
    rates = [
        (r.ok - bad) / r.elapsed_s * spec.items_per_request if r.elapsed_s > 0 else 0.0
        for r, bad in zip(results, partial, strict=True)
    ]
    figure = Figure(
        key=spec.key,
        title=spec.title,
        unit=spec.unit,
        implemented=True,
        target=spec.target,
        target_rate=spec.min_rate,
        rate=median(rates),
        round_rates=rates,
        count=sum(r.count for r in results),
        errors=sum(r.errors for r in results) + sum(partial),
        transport_errors=sum(r.transport_errors for r in results),
        timeouts=sum(r.timeouts for r in results),
        p50_ms=percentile(latencies, 50),
        p95_ms=percentile(latencies, 95),
        p99_ms=percentile(latencies, 99),
        connections=connections,
        status_counts=statuses,
        error_samples=[s for r in results for s in r.error_samples][:3],
    )
    figure.met = judge(spec, figure)
    return figure


def judge(spec: FigureSpec, figure: Figure) -> bool | None:
    """Whether the figure meets its target (None when it has none); any failed request fails it."""
    checks: list[bool] = []
    if spec.min_rate is not None:
        checks.append((figure.rate or 0) >= spec.min_rate)
    if spec.max_p95_ms is not None:
        checks.append((figure.p95_ms or 0) < spec.max_p95_ms)
    if spec.max_p99_ms is not None:
        checks.append((figure.p99_ms or 0) < spec.max_p99_ms)
    if not checks:
        return None
    clean = figure.errors == 0 and figure.transport_errors == 0 and figure.timeouts == 0 and figure.count > 0
    return all(checks) and clean


def overhead_figure(upsert: Figure, baseline: Figure) -> Figure:
    """Full-stack single upserts per second as a share of the bare pipeline's writes per second."""
    ratio = (upsert.rate or 0) / baseline.rate if baseline.rate else None
    return Figure(
        key="gateway_overhead",
        title="gateway overhead: single upsert ÷ bare pipeline",
        unit="ratio",
        implemented=True,
        target=f"≥ {OVERHEAD_TARGET:.2f}",
        rate=ratio,
        met=None if ratio is None else ratio >= OVERHEAD_TARGET and upsert.errors == 0,
        note="rounds of both were interleaved in this run",
    )


class Measurer:
    """Measures figures with warm-up and rounds; a figure's request numbers never repeat across rounds."""

    def __init__(self, duration_s: float, rounds: int, warmup_s: float) -> None:
        self._round_s = duration_s / rounds
        self._rounds = rounds
        self._warmup_s = warmup_s

    async def _round(self, url: str, factory: RequestFactory, connections: int, offset: int) -> LoadResult:
        return await run_load(
            url,
            lambda n: factory(n + offset),
            connections=connections,
            max_requests=10**9,
            duration_s=self._round_s,
        )

    async def measure_interleaved(
        self, jobs: Sequence[tuple[FigureSpec, str, RequestFactory, int]]
    ) -> list[Figure]:
        """Measure several figures round by round in turn, so machine noise hits them alike."""
        offsets = [0] * len(jobs)
        if self._warmup_s > 0:
            for i, (_, url, factory, connections) in enumerate(jobs):
                warm = await run_load(
                    url, factory, connections=connections, max_requests=10**9, duration_s=self._warmup_s
                )
                offsets[i] = warm.count + warm.timeouts
        results: list[list[LoadResult]] = [[] for _ in jobs]
        for _ in range(self._rounds):
            for i, (_, url, factory, connections) in enumerate(jobs):
                result = await self._round(url, factory, connections, offsets[i])
                offsets[i] += result.count + result.timeouts + result.transport_errors
                results[i].append(result)
        return [combine(spec, results[i], conns) for i, (spec, _, _, conns) in enumerate(jobs)]

    async def measure(self, spec: FigureSpec, url: str, factory: RequestFactory, connections: int) -> Figure:
        """Measure one figure."""
        return (await self.measure_interleaved([(spec, url, factory, connections)]))[0]
