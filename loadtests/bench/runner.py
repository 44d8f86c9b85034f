"""One bench run: start the stack and the bare pipeline, load data, measure every figure, collect notes."""

from __future__ import annotations

import asyncio
import contextlib
import math
import os
import secrets
import sys
from collections.abc import Awaitable, Callable, Iterator
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

from loadtests.bench import figures as F
from loadtests.bench import temporal
from loadtests.bench.auth import BenchClient, bench_client
from loadtests.bench.baseline import BaselineServers, baseline_pipeline
from loadtests.bench.cpu import cpu_meter
from loadtests.bench.loadgen import run_load
from loadtests.bench.notify import measure_notifications
from loadtests.bench.profile import ProfileSummary, profiling
from loadtests.bench.stack import RunningStack, running_stack
from loadtests.bench.workload import Gauges, Requests


@dataclass(frozen=True)
class BenchOptions:
    """What to measure and how hard; `sizes` has one entry, or three for a growth run."""

    sizes: tuple[int, ...]
    duration_s: float
    rounds: int
    warmup_s: float
    connections: int
    query_connections: int
    batch_size: int
    batch_connections: int
    subscribers: tuple[int, ...]
    load_budget_s: float
    profile_dir: Path | None
    profile_native: bool
    auth: str
    work_dir: Path
    brokers: tuple[int, ...] = (1,)  # broker processes; several counts: one fresh stack each, compared
    broker_workers: bool = False  # notifier and history recorder in a broker process of their own
    temporal_entities: int = 1000  # entities of the many-entities temporal figures


@dataclass
class BenchRun:
    """Everything one run found: figures per size reached, notes, profiles."""

    by_size: dict[int, list[F.Figure]] = field(default_factory=dict)  # with the first broker count
    by_brokers: dict[int, list[F.Figure]] = field(default_factory=dict)  # the largest size, per count
    notes: list[str] = field(default_factory=list)
    profiles: list[ProfileSummary] = field(default_factory=list)
    processes: dict[str, int] = field(default_factory=dict)

    def profiles_json(self) -> list[dict[str, Any]]:
        """The profile summaries for bench.json."""
        return [asdict(p) for p in self.profiles]


def _repo_root() -> Path:
    return Path(__file__).resolve().parents[2]


class _Session:
    """The state shared by the steps of one run."""

    def __init__(
        self, options: BenchOptions, stack: RunningStack, baseline: BaselineServers, run: BenchRun
    ) -> None:
        self.options = options
        self.stack = stack
        self.baseline_url = baseline.url
        # Every process by role ("broker", then "broker-2", ...), so the CPU table shows each replica.
        self.pids: dict[str, int] = {
            role if number == 1 else f"{role}-{number}": pid
            for role, pids in stack.processes.items()
            for number, pid in enumerate(pids, start=1)
        }
        self.pids.update(baseline.pids)
        self.run = run
        self.tenant = f"bench{secrets.token_hex(4)}"
        self.gauges = Gauges.generate(max(options.sizes))
        self.measurer = F.Measurer(options.duration_s, options.rounds, options.warmup_s)
        self.loaded = 0
        self.client: BenchClient | None = None
        self.history: str | bool | None = False  # False: not stored yet; None: stored; str: why not

    async def authenticate(self) -> None:
        """With auth on, create the bench tenant's client (as the bootstrap admin)."""
        if self.stack.auth_mode != "open":
            self.client = await asyncio.to_thread(
                bench_client, self.stack.gateway_url, self.stack.admin_password_file, self.tenant
            )

    async def requests(self, gauges: Gauges) -> Requests:
        """Request builders carrying a fresh token when auth is on (one per step: tokens expire)."""
        token = await asyncio.to_thread(self.client.token) if self.client is not None else None
        return Requests(self.stack.gateway_url, self.tenant, gauges, token=token)

    @contextlib.contextmanager
    def _profiled(self, figure: str) -> Iterator[None]:
        if self.options.profile_dir is None:
            yield
            return
        pids: dict[str, int] = {
            role: self.stack.processes[role][0]
            for role in ("broker", "gateway")
            if role in self.stack.processes
        }
        with profiling(
            pids, figure, self.options.profile_dir, native=self.options.profile_native
        ) as summaries:
            yield
        self.run.profiles.extend(summaries)

    async def _measured(self, key: str, step: Callable[[], Awaitable[list[F.Figure]]]) -> list[F.Figure]:
        with self._profiled(key), cpu_meter(self.pids) as cores:
            figures = await step()
        for figure in figures:
            figure.cpu_cores = cores
        return figures

    async def load(self, size: int) -> F.Figure | None:
        """Create gauges `loaded`..`size` by batch upserts; the batch-load figure, or None on failure."""
        opts = self.options
        start, batch = self.loaded, opts.batch_size
        requests = await self.requests(self.gauges)
        total = math.ceil((size - start) / batch)

        def build(number: int) -> bytes:
            first = start + number * batch
            return requests.batch_upsert(range(first, min(size, first + batch)))

        with cpu_meter(self.pids) as cores:
            result = await run_load(
                self.stack.gateway_url,
                build,
                connections=opts.batch_connections,
                max_requests=total,
                duration_s=opts.load_budget_s,
            )
        spec = F.batch_spec("batch_load", f"batch upsert, initial load (new, {batch}/request)", batch)
        figure = F.combine(spec, [result], opts.batch_connections)
        figure.cpu_cores = cores
        good = result.ok - result.status_counts.get(207, 0)
        figure.rate = min(size - start, good * batch) / result.elapsed_s if result.elapsed_s else 0.0
        figure.round_rates = [figure.rate]
        if result.count < total or figure.errors or result.transport_errors:
            self.run.notes.append(
                f"loading {size:,} entities stopped: {result.count}/{total} batches answered within "
                f"{opts.load_budget_s:.0f} s, {figure.errors} failed; figures at this size are not measured"
                + "".join(f"\n  answer: {sample}" for sample in result.error_samples)
            )
            return None
        self.loaded = size
        return figure

    async def measure_size(self, size: int, load_figure: F.Figure) -> list[F.Figure]:
        """Every figure over the first `size` gauges."""
        opts = self.options
        gauges = Gauges(self.gauges.levels[:size], self.gauges.positions[:size])
        req = await self.requests(gauges)
        url, conns = self.stack.gateway_url, opts.connections
        m = self.measurer
        upsert, baseline = await self._measured(
            "upsert_single",
            lambda: m.measure_interleaved(
                [
                    (F.UPSERT, url, req.single_upsert(), conns),
                    (F.BASELINE, self.baseline_url, req.baseline_write(self.baseline_url), conns),
                ]
            ),
        )
        batch_spec = F.batch_spec(
            "batch_upsert", f"batch upsert, existing ({opts.batch_size}/request)", opts.batch_size
        )
        rest = [
            await self._measured(
                "patch_attrs", lambda: _one(m.measure(F.PATCH, url, req.patch_attrs(), conns))
            ),
            await self._measured(
                "batch_upsert",
                lambda: _one(
                    m.measure(batch_spec, url, req.batch_upserts(opts.batch_size), opts.batch_connections)
                ),
            ),
            await self._measured("get_by_id", lambda: _one(m.measure(F.GET, url, req.get_by_id(), conns))),
            await self._measured(
                "query_type_q", lambda: _one(m.measure(F.QUERY, url, req.query(), opts.query_connections))
            ),
            await self._measured(
                "query_type_q_count",
                lambda: _one(m.measure(F.QUERY_COUNT, url, req.query(count=True), opts.query_connections)),
            ),
        ]
        rest.extend(await self._temporal(req))
        # Last: the notifier keeps reading the tenant's changes while subscriptions exist.
        for subscribers in opts.subscribers:
            rest.append(
                await self._measured(
                    f"notifications_{subscribers}",
                    lambda n=subscribers: _one(  # type: ignore[misc]
                        measure_notifications(
                            req,
                            url,
                            subscribers=n,
                            probes=20,
                            connections=opts.query_connections * 2,
                            duration_s=opts.duration_s,
                        )
                    ),
                )
            )
        figures = [upsert, *(f for group in rest for f in group), load_figure, baseline]
        for figure in figures:
            if baseline.rate and figure.rate is not None and figure.unit in ("req/s", "entities/s"):
                figure.ratio_to_baseline = figure.rate / baseline.rate
        return [*figures, F.overhead_figure(upsert, baseline)]

    async def _temporal(self, req: Requests) -> list[list[F.Figure]]:
        """One entity's day (aggregated, and queried whole), then many entities' hours (queried, aggregated),
        each figure with its own CPU row. The history is stored once per stack: a second size would append
        duplicate instances."""
        url, conns = self.stack.gateway_url, self.options.query_connections
        many = self.options.temporal_entities
        query_many, aggregate_many = F.temporal_many_specs(many)
        jobs = [
            (F.TEMPORAL, temporal.aggregation(req)),
            (F.TEMPORAL_QUERY, temporal.whole_day(req)),
            (query_many, temporal.many_query(req, many)),
            (aggregate_many, temporal.many_aggregation(req, many)),
        ]
        if self.history is False:
            self.history = await temporal.prepare(req, url) or await temporal.prepare_many(req, url, many)
        if isinstance(self.history, str):
            return [[F.unavailable(spec, self.history)] for spec, _ in jobs]
        m = self.measurer
        return [
            await self._measured(spec.key, lambda s=spec, f=factory: _one(m.measure(s, url, f, conns)))  # type: ignore[misc]
            for spec, factory in jobs
        ]


async def _one(pending: Awaitable[F.Figure]) -> list[F.Figure]:
    return [await pending]


async def run_bench(options: BenchOptions, progress: Callable[[str], None]) -> BenchRun:
    """Start everything, measure every size in turn (stopping at the first that cannot be loaded); with
    several broker counts, do all of that once per count, each in a fresh stack."""
    run = BenchRun()
    for brokers in options.brokers:
        by_size = await _run_stack(options, brokers, run, progress)
        if not run.by_size:
            run.by_size = by_size
        if by_size:
            run.by_brokers[brokers] = by_size[max(by_size)]
    if not run.by_size:
        print("no size could be loaded; see the notes", file=sys.stderr)
    return run


async def _run_stack(
    options: BenchOptions, brokers: int, run: BenchRun, progress: Callable[[str], None]
) -> dict[int, list[F.Figure]]:
    """One stack with `brokers` broker processes: load and measure every size."""
    repo = _repo_root()
    by_size: dict[int, list[F.Figure]] = {}
    label = f"{brokers} broker{'s' if brokers > 1 else ''}"
    workers = options.broker_workers
    with running_stack(options.work_dir / f"stack-{brokers}", repo, options.auth, brokers, workers) as stack:
        processes = {role: len(pids) for role, pids in sorted(stack.processes.items())}
        run.processes = run.processes or processes  # the main figures' stack: the first broker count
        counts = ", ".join(f"{n} {role}" for role, n in processes.items())
        run.notes.append(
            f"stack processes ({label}): {counts}; load generator: 1 process "
            f"({os.cpu_count()} CPUs shared by all)"
        )
        if workers:
            run.notes.append(
                "--broker-workers: the notifier and history recorder run in a broker process of their own "
                "(broker-worker), which the gateway does not call; the other brokers only serve requests"
            )
        elif brokers > 1:
            run.notes.append(
                f"{label}: the gateway spreads its calls over them (round robin over its BROKER_ADDRESS "
                "list); each also runs the notifier and history recorder, sharing that work through "
                "consumer groups"
            )
        if stack.auth_mode == "open":
            run.notes.append(
                "gateway auth mode: open (no token checks); section 6 assumes auth on (--auth oidc)"
            )
        elif brokers == options.brokers[0]:
            run.notes.append(
                f"gateway auth mode: {stack.auth_mode}; every request carries a bearer token of a "
                "client_credentials client of the bench tenant, verified by the gateway"
            )
        progress(f"stack ready at {stack.gateway_url} ({label}); starting the bare pipeline")
        with baseline_pipeline(stack.redis_url, options.work_dir / f"baseline-{brokers}", repo) as baseline:
            session = _Session(options, stack, baseline, run)
            await session.authenticate()
            for size in options.sizes:
                progress(f"loading {size:,} entities (tenant {session.tenant}, {label})")
                load_figure = await session.load(size)
                if load_figure is None:
                    break
                progress(f"measuring at {size:,} entities ({options.duration_s:g} s per figure, {label})")
                by_size[size] = await session.measure_size(size, load_figure)
    return by_size
