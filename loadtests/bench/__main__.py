"""`python -m loadtests.bench`: measure the figures of ARCHITECTURE.md section 6 and write the reports."""

from __future__ import annotations

import argparse
import os
import platform
import shutil
import sys
import tempfile
import time
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import uvloop

from loadtests.bench.report import (
    brokers_table,
    cpu_table,
    growth_table,
    print_report,
    write_chart,
    write_json,
)
from loadtests.bench.runner import BenchOptions, BenchRun, run_bench

GROWTH_SIZES = (10_000, 100_000, 1_000_000)


def _counts(text: str, what: str, most: int) -> tuple[int, ...]:
    try:
        counts = tuple(int(part) for part in text.split(","))
    except ValueError:
        raise argparse.ArgumentTypeError(f"not a comma list of numbers: {text!r}") from None
    if not all(1 <= n <= most for n in counts) or len(set(counts)) != len(counts):
        raise argparse.ArgumentTypeError(f"{what} must be distinct numbers from 1 to {most}")
    return counts


def _broker_counts(text: str) -> tuple[int, ...]:
    return _counts(text, "broker counts", 8)


def _subscriber_counts(text: str) -> tuple[int, ...]:
    return _counts(text, "subscriber counts", 100)


def _parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(prog="python -m loadtests.bench", description=__doc__)
    p.add_argument("--entities", type=int, default=100_000, help="entities stored while measuring (100000)")
    p.add_argument("--growth", action="store_true", help="measure at 10k, 100k and 1M entities in turn")
    p.add_argument("--load-budget", type=float, default=900.0, help="seconds allowed to load one size (900)")
    p.add_argument("--duration", type=float, default=9.0, help="seconds of measurement per figure (9)")
    p.add_argument("--rounds", type=int, default=3, help="rounds per figure; the median round counts (3)")
    p.add_argument("--warmup", type=float, default=1.0, help="unrecorded seconds before each figure (1)")
    p.add_argument("--connections", type=int, default=32, help="keep-alive connections for rates (32)")
    p.add_argument("--query-connections", type=int, default=4, help="connections for the query figure (4)")
    p.add_argument("--batch-size", type=int, default=1000, help="entities per batch request (1000)")
    p.add_argument("--batch-connections", type=int, default=4, help="connections for batch requests (4)")
    p.add_argument(
        "--subscribers",
        type=_subscriber_counts,
        default=(1, 10),
        help="subscriptions for the notification figure, one figure per count (1,10)",
    )
    p.add_argument(
        "--temporal-entities",
        type=int,
        default=1000,
        help="entities with an hour of history for the many-entities temporal figures (1000)",
    )
    p.add_argument(
        "--auth",
        choices=("oidc", "open"),
        default="oidc",
        help="gateway auth: oidc (tokens verified, as section 6 assumes; default) or open (no checks)",
    )
    p.add_argument(
        "--brokers",
        type=_broker_counts,
        default=(1,),
        help="broker processes, or a comma list (1,2) to compare counts, each in a fresh stack (1)",
    )
    p.add_argument(
        "--broker-workers",
        action="store_true",
        help="run the notifier and history recorder in a broker process of their own",
    )
    p.add_argument("--smoke", action="store_true", help="tiny and fast: 200 entities, 1 s per figure")
    p.add_argument("--profile", action="store_true", help="py-spy the broker and gateway during each figure")
    p.add_argument("--profile-native", action="store_true", help="with --profile: include C frames")
    p.add_argument("--out", type=Path, default=Path("reports"), help="where bench.json and bench.png go")
    return p


def _options(args: argparse.Namespace, work_dir: Path) -> BenchOptions:
    if args.smoke:
        args.entities, args.duration, args.rounds, args.warmup = 200, 1.0, 1, 0.2
        args.connections, args.query_connections = 8, 2
        args.batch_size, args.batch_connections, args.subscribers = 50, 2, (1, 2)
        args.temporal_entities = 20
    sizes = GROWTH_SIZES if args.growth else (args.entities,)
    if not 1 <= args.temporal_entities <= 1000:
        raise SystemExit("--temporal-entities must be from 1 to 1000 (one page: the broker's largest limit)")
    if min(sizes) < 1 or args.duration <= 0 or args.rounds < 1 or args.batch_size < 1:
        raise SystemExit("--entities, --duration, --rounds and --batch-size must be positive")
    return BenchOptions(
        sizes=sizes,
        duration_s=args.duration,
        rounds=args.rounds,
        warmup_s=args.warmup,
        connections=args.connections,
        query_connections=args.query_connections,
        batch_size=args.batch_size,
        batch_connections=args.batch_connections,
        subscribers=args.subscribers,
        load_budget_s=args.load_budget,
        profile_dir=args.out / "profiles" if args.profile else None,
        profile_native=args.profile_native,
        auth=args.auth,
        work_dir=work_dir,
        brokers=args.brokers,
        broker_workers=args.broker_workers,
        temporal_entities=args.temporal_entities,
    )


def _machine() -> dict[str, Any]:
    model = ""
    try:
        with open("/proc/cpuinfo", encoding="utf-8") as cpuinfo:
            model = next((ln.split(":", 1)[1].strip() for ln in cpuinfo if ln.startswith("model name")), "")
    except OSError:
        pass
    return {
        "cpus": os.cpu_count(),
        "cpu_model": model,
        "platform": platform.platform(),
        "python": platform.python_version(),
        "load_average": os.getloadavg(),
    }


def _document(
    run: BenchRun, options: BenchOptions, machine: dict[str, Any], seconds: float
) -> dict[str, Any]:
    main = run.by_size[max(run.by_size)] if run.by_size else []
    return {
        "generated_at": datetime.now(UTC).isoformat(timespec="seconds"),
        "machine": {**machine, "load_average_after": os.getloadavg()},
        "options": {k: str(v) if isinstance(v, Path) else v for k, v in vars(options).items()},
        "entities": max(run.by_size) if run.by_size else 0,
        "processes": run.processes,
        "figures": [f.to_json() for f in main],
        "growth": {str(size): [f.to_json() for f in figs] for size, figs in sorted(run.by_size.items())},
        "brokers": {str(n): [f.to_json() for f in figs] for n, figs in sorted(run.by_brokers.items())},
        "notes": run.notes,
        "profiles": run.profiles_json(),
        "elapsed_s": round(seconds, 1),
    }


def _print_profiles(run: BenchRun) -> None:
    for p in run.profiles:
        print(f"\nprofile {p.figure} / {p.role}: {p.samples} samples ({p.raw_path})")
        for name, share in p.self_top[:8]:
            print(f"  self {share:5.1f}%  {name}")


def main(argv: list[str] | None = None) -> int:
    """Run the bench; exit 1 when nothing could be measured (a missed target is not a failure)."""
    args = _parser().parse_args(argv)
    work_dir = Path(tempfile.mkdtemp(prefix="cityos-bench-"))
    options = _options(args, work_dir)
    machine = _machine()
    started = time.monotonic()
    try:
        run = uvloop.run(run_bench(options, lambda msg: print(f"bench: {msg}", flush=True)))
    finally:
        shutil.rmtree(work_dir, ignore_errors=True)
    if not run.by_size:
        print("\n".join(run.notes), file=sys.stderr)
        return 1
    size = max(run.by_size)
    print(
        f"\nCity OS bench: {size:,} entities, {options.duration_s:g} s per figure, {machine['cpus']} CPUs\n"
    )
    print_report(sys.stdout, run.by_size[size], run.notes)
    if len(run.by_size) > 1 or args.growth:
        print("\ngrowth (load bounded by --load-budget per size):\n" + growth_table(run.by_size))
    if len(run.by_brokers) > 1:
        heading = f"\nbroker processes ({size:,} entities, one fresh stack each):\n"
        print(heading + brokers_table(run.by_brokers))
        for count, figures in sorted(run.by_brokers.items())[1:]:
            print(f"\ncores used with {count} brokers:\n" + cpu_table(figures))
    _print_profiles(run)
    json_path, png_path = args.out / "bench.json", args.out / "bench.png"
    write_json(json_path, _document(run, options, machine, time.monotonic() - started))
    write_chart(png_path, run.by_size[size], run.by_size if len(run.by_size) > 1 else {})
    print(f"\nwrote {json_path} and {png_path}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
