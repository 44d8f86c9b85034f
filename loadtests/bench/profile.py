"""Sampling profiles of the stack's processes with py-spy while a figure is measured, and their top costs."""

from __future__ import annotations

import contextlib
import shutil
import subprocess
import sys
from collections import Counter
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from pathlib import Path

_RATE_HZ = 97  # not a multiple of common timer frequencies, so samples do not lock onto periodic work
_TOP = 15
# Frames every sample of a service passes through (runpy, main, the event loop's run): not informative.
_ENTRY_FRAMES = ("_run_module_as_main ", "_run_code ", "<module> ", "main ", "run ", "Runner.run ", "Thread.")
# Leaf frames of a thread that waits (native profiles sample idle threads too): not a cost.
_IDLE_LEAVES = (
    "epoll_wait",
    "epoll_pwait",
    "poll ",
    "select ",
    "nanosleep",
    "clock_nanosleep",
    "pthread_cond",
)


@dataclass(frozen=True)
class ProfileSummary:
    """The hottest functions of one process during one figure: self and inclusive share of samples."""

    role: str
    figure: str
    samples: int  # busy samples: the shares below are of these
    idle_samples: int
    self_top: tuple[tuple[str, float], ...]
    inclusive_top: tuple[tuple[str, float], ...]
    raw_path: str


def py_spy() -> str | None:
    """The py-spy executable next to this interpreter, or on PATH."""
    beside = Path(sys.executable).with_name("py-spy")
    return str(beside) if beside.exists() else shutil.which("py-spy")


@contextlib.contextmanager
def profiling(
    pids: Mapping[str, int], figure: str, out_dir: Path, *, native: bool = False
) -> Iterator[list[ProfileSummary]]:
    """Record each pid (by role) while the body runs; the list is filled with summaries on exit.

    `native` adds C frames (uvloop, grpc's core, orjson): slower to sample, but it shows what the Python-only
    view books to the event loop's `run` frame or to grpc's poller thread.
    """
    exe = py_spy()
    summaries: list[ProfileSummary] = []
    if exe is None or not pids:
        yield summaries
        return
    out_dir.mkdir(parents=True, exist_ok=True)
    running: list[tuple[str, Path, subprocess.Popen[bytes]]] = []
    for role, pid in pids.items():
        raw = out_dir / f"{figure}-{role}.txt"
        argv = [exe, "record", "--pid", str(pid), "--rate", str(_RATE_HZ), "--format", "raw"]
        argv += ["--output", str(raw), *(["--native"] if native else ["--nonblocking"])]
        log = (out_dir / f"{figure}-{role}.log").open("wb")
        with log:
            proc = subprocess.Popen(argv, stdout=log, stderr=subprocess.STDOUT)
        running.append((role, raw, proc))
    try:
        yield summaries
    finally:
        for _, _, proc in running:
            proc.send_signal(2)  # SIGINT makes py-spy write what it sampled so far
        for role, raw, proc in running:
            try:
                proc.wait(30)
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait()
            if raw.exists():
                summaries.append(summarize(raw.read_text(), role, figure, str(raw)))


def summarize(collapsed: str, role: str, figure: str, raw_path: str = "") -> ProfileSummary:
    """Self and inclusive sample shares per function from py-spy's collapsed-stack output."""
    self_counts: Counter[str] = Counter()
    inclusive: Counter[str] = Counter()
    total = idle = 0
    for line in collapsed.splitlines():
        stack, _, count_text = line.rpartition(" ")
        if not stack or not count_text.isdigit():
            continue
        count = int(count_text)
        frames = [_short(frame) for frame in stack.split(";") if frame]
        if not frames:
            continue
        if frames[-1].startswith(_IDLE_LEAVES):
            idle += count
            continue
        total += count
        self_counts[frames[-1]] += count
        for frame in {f for f in frames if _interesting(f)}:  # a recursive function counts once per sample
            inclusive[frame] += count

    def top(counter: Counter[str]) -> tuple[tuple[str, float], ...]:
        return tuple((name, 100.0 * n / total) for name, n in counter.most_common(_TOP)) if total else ()

    return ProfileSummary(role, figure, total, idle, top(self_counts), top(inclusive), raw_path)


def _interesting(frame: str) -> bool:
    """Python frames below the event loop: C frames and the start-up chain are in every sample."""
    return ".py)" in frame and not frame.startswith(_ENTRY_FRAMES)


def _short(frame: str) -> str:
    """`f (.../site-packages/pkg/mod.py:12)` -> `f (pkg/mod.py)`: line numbers would split a function."""
    name, _, location = frame.partition(" (")
    path = location.rstrip(")").rsplit(":", 1)[0]
    for marker in ("site-packages/", "/src/", "lib/python3"):
        if marker in path:
            path = path.split(marker, 1)[1]
            break
    return f"{name} ({path})" if path else name
