"""The bench's outputs: the printed table, reports/bench.json and the reports/bench.png chart."""

from __future__ import annotations

import json
from collections.abc import Callable, Mapping, Sequence
from pathlib import Path
from typing import Any, TextIO

from loadtests.bench.figures import Figure

_COLUMNS = ("figure", "median rate", "p50", "p95", "p99", "target", "met?", "÷ baseline")


def _rate(figure: Figure) -> str:
    if not figure.implemented:
        return figure.note
    if figure.rate is None:
        return "—"
    if figure.unit == "ratio":
        return f"{figure.rate:.2f}"
    return f"{figure.rate:,.0f} {figure.unit}"


def _ms(value: float | None) -> str:
    return "—" if value is None else f"{value:.1f} ms"


def _met(figure: Figure) -> str:
    if figure.met is None:
        return "—"
    verdict = "yes" if figure.met else "NO"
    if figure.errors or figure.transport_errors or figure.timeouts:
        verdict += f" ({figure.errors + figure.transport_errors + figure.timeouts} failed)"
    return verdict


def table_rows(figures: Sequence[Figure]) -> list[tuple[str, ...]]:
    """One row of cells per figure, in the order of _COLUMNS."""
    rows: list[tuple[str, ...]] = []
    for f in figures:
        ratio = "—" if f.ratio_to_baseline is None else f"{f.ratio_to_baseline:.2f}"
        if not f.implemented:
            rows.append((f.title, _rate(f), "", "", "", f.target, "—", "—"))
            continue
        rows.append(
            (f.title, _rate(f), _ms(f.p50_ms), _ms(f.p95_ms), _ms(f.p99_ms), f.target, _met(f), ratio)
        )
    return rows


def render_table(rows: Sequence[Sequence[str]], columns: Sequence[str] = _COLUMNS) -> str:
    """A plain-text table with aligned columns."""
    widths = [max(len(str(c)) for c in column) for column in zip(columns, *rows, strict=False)]
    line = "  ".join("-" * w for w in widths)
    out = ["  ".join(c.ljust(w) for c, w in zip(columns, widths, strict=True)), line]
    out.extend("  ".join(str(c).ljust(w) for c, w in zip(row, widths, strict=True)) for row in rows)
    return "\n".join(out)


def cpu_table(figures: Sequence[Figure]) -> str:
    """Cores each process used while each figure was measured (interleaved figures share one meter)."""
    roles: list[str] = []
    for f in figures:
        roles.extend(r for r in f.cpu_cores if r not in roles)
    rows = [
        (f.key, *(f"{f.cpu_cores.get(r, 0):.2f}" for r in roles), f"{sum(f.cpu_cores.values()):.2f}")
        for f in figures
        if f.cpu_cores
    ]
    return render_table(rows, ("cores used by", *roles, "total"))


def print_report(out: TextIO, figures: Sequence[Figure], notes: Sequence[str]) -> None:
    """The figure table, the CPU table, then every note (process counts, what was not measured, errors)."""
    out.write(render_table(table_rows(figures)) + "\n\n")
    if any(f.cpu_cores for f in figures):
        out.write(cpu_table(figures) + "\n\n")
    for note in notes:
        out.write(f"- {note}\n")
    for f in figures:
        for sample in f.error_samples:
            out.write(f"- {f.key} error sample: {sample}\n")
    out.flush()


def growth_table(growth: Mapping[int, Sequence[Figure]]) -> str:
    """How each figure changes with the number of entities: one column per size reached."""
    return compare_table(growth, lambda size: f"{size:,} entities")


def brokers_table(by_brokers: Mapping[int, Sequence[Figure]]) -> str:
    """How each figure changes with the number of broker processes: one column per count."""
    return compare_table(by_brokers, lambda n: f"{n} broker{'s' if n > 1 else ''}")


def compare_table(growth: Mapping[int, Sequence[Figure]], header: Callable[[int], str]) -> str:
    """Each figure's rate and tail latency side by side, one column per key of `growth`."""
    sizes = sorted(growth)
    keys: dict[str, str] = {}
    for size in sizes:
        for f in growth[size]:
            if f.implemented and f.unit != "ratio":
                keys.setdefault(f.key, f.title)
    rows = []
    for key, title in keys.items():
        cells = [title]
        for size in sizes:
            match = next((f for f in growth[size] if f.key == key), None)
            if match is None or match.rate is None:
                cells.append("—")
            else:
                tail = match.p95_ms if key.startswith("query") else match.p99_ms
                which = "p95" if key.startswith("query") else "p99"
                cells.append(f"{match.rate:,.0f}/s {which} {tail or 0:.0f} ms")
        rows.append(tuple(cells))
    return render_table(rows, ("figure", *(header(s) for s in sizes)))


def write_json(path: Path, document: Mapping[str, Any]) -> None:
    """Write bench.json (pretty, UTF-8)."""
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(document, indent=2, ensure_ascii=False) + "\n", encoding="utf-8")


def write_chart(path: Path, figures: Sequence[Figure], growth: Mapping[int, Sequence[Figure]]) -> None:
    """A PNG: rates against their targets, tail latencies, and the growth curves when there are any."""
    import matplotlib

    matplotlib.use("Agg")  # no display on servers and CI
    import matplotlib.pyplot as plt
    from matplotlib.ticker import NullFormatter

    measured = [f for f in figures if f.implemented and f.rate is not None and f.unit != "ratio"]
    panels = 3 if growth else 2
    fig, axes = plt.subplots(1, panels, figsize=(6 * panels, 5.5), squeeze=False)
    names = [f.key for f in measured]
    rates_ax, tail_ax = axes[0][0], axes[0][1]
    rates_ax.barh(names, [f.rate or 0 for f in measured], color="#4c72b0")
    for row, f in enumerate(measured):
        rates_ax.annotate(f" {f.rate or 0:,.0f}", (f.rate or 0, row), va="center", fontsize="small")
        if f.target_rate:
            rates_ax.plot([f.target_rate], [row], marker="|", markersize=22, color="#c44e52")
    rates_ax.set_xscale("log")
    rates_ax.xaxis.set_minor_formatter(NullFormatter())
    rates_ax.set_xlabel("median rate per second (req or entities), log scale")
    rates_ax.set_title("throughput (red mark: target)")
    tail_ax.barh(names, [f.p99_ms or 0 for f in measured], color="#dd8452", label="p99")
    tail_ax.barh(names, [f.p50_ms or 0 for f in measured], color="#55a868", label="p50")
    tail_ax.set_xscale("log")
    tail_ax.xaxis.set_minor_formatter(NullFormatter())
    tail_ax.set_xlabel("latency (ms), log scale")
    tail_ax.set_title("latency")
    tail_ax.legend()
    if growth:
        growth_ax = axes[0][2]
        sizes = sorted(growth)
        for key in names:
            points = [
                (size, f.rate) for size in sizes for f in growth[size] if f.key == key and f.rate is not None
            ]
            if points:
                growth_ax.plot([p[0] for p in points], [p[1] for p in points], marker="o", label=key)
        growth_ax.set_xscale("log")
        growth_ax.set_yscale("log")
        growth_ax.set_xlabel("entities stored")
        growth_ax.set_title("rate as the data set grows")
        growth_ax.legend(fontsize="small")
    fig.suptitle("City OS bench (make bench)")
    fig.tight_layout()
    path.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(path, dpi=100)
    plt.close(fig)
