"""The printed table, the growth table and the profile summary (no sockets, no processes)."""

import io

from loadtests.bench import figures as F
from loadtests.bench.profile import summarize
from loadtests.bench.report import brokers_table, growth_table, print_report, render_table


def measured(key: str, rate: float) -> F.Figure:
    return F.Figure(
        key, f"title {key}", "req/s", True, "t", rate=rate, p50_ms=1.0, p95_ms=2.0, p99_ms=3.0, count=5
    )


def test_table_columns_align_and_unimplemented_rows_say_why():
    out = io.StringIO()
    missing = [F.unavailable(F.TEMPORAL, "no history"), F.unavailable(F.notify_spec(1), "no history")]
    print_report(out, [measured("a", 1234.5), *missing], ["stack processes: 1 broker"])
    text = out.getvalue()
    lines = text.splitlines()
    assert lines[0].startswith("figure")
    assert "1,234 req/s" in text or "1,235 req/s" in text
    assert text.count("n/a — no history") == 2
    assert "- stack processes: 1 broker" in text


def test_render_table_pads_every_cell():
    text = render_table([("a", "bbb")], ("x", "y"))
    assert text.splitlines() == ["x  y  ", "-  ---", "a  bbb"]


def test_growth_table_has_one_column_per_size():
    growth = {10: [measured("a", 100)], 100: [measured("a", 90)]}
    text = growth_table(growth)
    assert "10 entities" in text and "100 entities" in text
    assert "100/s p99 3 ms" in text and "90/s p99 3 ms" in text


def test_brokers_table_has_one_column_per_count():
    text = brokers_table({1: [measured("a", 100)], 2: [measured("a", 150)]})
    assert "1 broker " in text and "2 brokers" in text
    assert "100/s p99 3 ms" in text and "150/s p99 3 ms" in text


def test_profile_summary_shares_self_and_inclusive_time():
    serve = "serve (/v/lib/python3.11/site-packages/app/x.py"
    handle = "handle (/repo/src/app/h.py:9)"
    entry = "_run_module_as_main (<frozen runpy>:198);main (/repo/src/app/__main__.py:3)"
    collapsed = "\n".join(
        [
            f"{entry};{serve}:1);{handle};dumps (json.py:3) 30",
            f"{entry};{serve}:2);{handle} 10",
            f"{entry};{serve}:1);compute (calc.py:1) 60",
            f"{entry};{serve}:1);epoll_wait (libc.so.6) 500",
            "garbage line",
        ]
    )
    summary = summarize(collapsed, "broker", "upsert")
    assert (summary.samples, summary.idle_samples) == (100, 500)  # waiting is not a cost
    assert dict(summary.self_top)["compute (calc.py)"] == 60
    assert dict(summary.self_top)["dumps (json.py)"] == 30
    inclusive = dict(summary.inclusive_top)
    assert inclusive["serve (app/x.py)"] == 100  # one function, whichever line was sampled
    assert inclusive["handle (app/h.py)"] == 40
    assert not any(name.startswith(("main ", "_run_module_as_main")) for name in inclusive)
