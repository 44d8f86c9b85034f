"""Where the CPU goes while a figure is measured: cores used by each process of the stack."""

from __future__ import annotations

import contextlib
import os
import time
from collections.abc import Iterator, Mapping

import psutil


def _cpu_seconds(pid: int) -> float:
    try:
        times = psutil.Process(pid).cpu_times()
    except psutil.Error:
        return 0.0
    return float(times.user + times.system)


@contextlib.contextmanager
def cpu_meter(pids: Mapping[str, int]) -> Iterator[dict[str, float]]:
    """Yield a dict that, on exit, holds the cores each role used (CPU seconds ÷ wall seconds).

    The load generator itself is measured as role `loadgen`; on a 2-core machine the roles sum to ≤ 2.
    """
    roles = {**pids, "loadgen": os.getpid()}
    before = {role: _cpu_seconds(pid) for role, pid in roles.items()}
    started = time.perf_counter()
    cores: dict[str, float] = {}
    try:
        yield cores
    finally:
        wall = time.perf_counter() - started
        for role, pid in roles.items():
            cores[role] = round((_cpu_seconds(pid) - before[role]) / wall, 3) if wall > 0 else 0.0
