"""Keep the benchmarks runnable: each runs on a tiny size and prints its figures (no speed asserts)."""

from __future__ import annotations

import re

import pytest


@pytest.mark.benchmark
def test_ingest_benchmark_runs_through_the_one_command(capsys, mysql_url) -> None:
    from tests.benchmarks.__main__ import main

    admin = mysql_url.rsplit("/", 1)[0] + "/"
    assert main(["--quick", "--only", "ingest", "--mysql", admin]) == 0
    out = capsys.readouterr().out
    with capsys.disabled():
        print("\n" + out)
    lines = [line.rstrip() for line in out.splitlines() if line.startswith(("sqlite ", "mariadb "))]
    # heart rate and steps, first write and re-write, on both dialects, each beside its ceiling
    assert len(lines) == 8 and all("raw executemany" in line for line in lines[:4])
    assert all("LOAD DATA" in line and ("ok" in line or "MISS" in line) for line in lines[4:])
    ratios = [re.search(r" (\d+\.\d\d)( >=0\.8 (ok|MISS))?$", line) for line in lines]
    assert all(m is not None and float(m.group(1)) > 0 for m in ratios), lines


@pytest.mark.benchmark
def test_charts_benchmark_runs(capsys, mysql_url) -> None:
    from tests.benchmarks import charts

    admin = mysql_url.rsplit("/", 1)[0] + "/"
    lines = charts.run(2, 2, admin, runs=1)
    with capsys.disabled():
        print("\n" + "\n".join(lines))
    timed = [line for line in lines[2:] if " ms" in line]
    assert {line.split()[0] for line in timed} == {"sqlite", "mariadb"}
    assert sum("heart_rate" in line for line in timed) == 8 and sum("compliance grid" in line for line in timed) == 2


@pytest.mark.benchmark
def test_app_benchmark_sees_the_window_shown(tmp_path) -> None:
    from tests.benchmarks import app

    seconds, rss, cpu = app.start_once(tmp_path / "app-home", idle_s=0.5, timeout=90)
    assert 0 < seconds < 90 and rss is not None and rss > 10_000_000 and cpu > 0
    lines = app.table([app.Figure("start, first (empty folder)", seconds, "s", 2.0),
                       app.Figure("idle", 250.0, "MB", 200.0)])
    assert lines[1].rstrip().endswith(" ok" if seconds < 2 else " MISS")
    assert lines[2].rstrip().endswith("1.25 MISS")
