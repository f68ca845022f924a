"""Keep the benchmarks runnable: each runs on a tiny size and prints its figures (no speed asserts), and
the chart and Grafana tables cover every chart query and every panel query."""

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
    assert sum(line.split()[1] == "heart_rate" for line in timed) == 8
    assert sum("compliance grid" in line for line in timed) == 2
    # every chart query of the patient view is timed, on both dialects
    from services.data.charts import ChartService

    queries = {name for name, value in vars(ChartService).items() if not name.startswith("_") and callable(value)}
    for dialect in ("sqlite", "mariadb"):
        # ChartService.view is the "whole view" row
        timed_here = {"view" if line.split()[1] == "whole" else line.split()[1]
                      for line in timed if line.startswith(dialect + " ")}
        assert queries <= timed_here, (dialect, queries - timed_here)


@pytest.mark.benchmark
def test_grafana_benchmark_times_every_panel_query_at_both_ranges(capsys, mysql_url) -> None:
    from services.reach.grafana_dashboards import dashboards
    from tests.benchmarks.__main__ import main

    admin = mysql_url.rsplit("/", 1)[0] + "/"
    assert main(["--quick", "--only", "grafana", "--mysql", admin]) == 0
    out = capsys.readouterr().out
    with capsys.disabled():
        print("\n" + out)
    lines = [line for line in out.splitlines() if line.startswith(("clinic ", "patient "))]
    expected = [(stem.removeprefix("wearsync-"), p["title"] + (f" [{t['refId']}]" if len(p["targets"]) > 1 else ""))
                for stem, dash in dashboards().items() for p in dash["panels"] for t in p["targets"]]
    assert len(expected) > 20
    for span, target in (("24 h", "100 ms"), ("90 d", "500 ms")):
        at = [line for line in lines if f" {span} " in line]
        timed = [(line[:9].strip(), line[10:48].strip()) for line in at]
        assert timed == [(d, lab[:38].strip()) for d, lab in expected]
        assert all(target in line and re.search(r" \d+\.\d\d (ok|MISS)$", line) for line in at), at
        assert re.search(rf"^slowest at {span}: (clinic|patient) / .+ ms \(ratio \d+\.\d\d\)$", out, re.M)


@pytest.mark.benchmark
def test_sync_benchmark_runs_tiny_against_the_sandbox(capsys) -> None:
    """N=2 patients x 3 vendors x 2 days on SQLite, through the one command (about 10 s; the same run on
    MariaDB, which `--mysql` adds, would double that)."""
    from tests.benchmarks.__main__ import main

    assert main(["--quick", "--only", "sync", "--simulate", "20", "--mysql", ""]) == 0
    out = capsys.readouterr().out
    with capsys.disabled():
        print("\n" + out)
    assert "SQLite; all downloads ok: True; 429s answered: 0" in out
    size = re.search(r"SQLite size \d+\.\d MiB \((\d+) KiB per patient-day\)", out)
    assert size and int(size.group(1)) >= 50, out  # thousands of rows a patient-day, the WAL included
    rows = {line.split()[0]: line.split() for line in out.splitlines()
            if line.startswith(("fitbit ", "withings ", "polar ", "all "))}
    assert set(rows) == {"fitbit", "withings", "polar", "all"}
    assert all(int(rows[v][1]) == 2 and int(rows[v][2]) > 0 for v in ("fitbit", "withings", "polar"))
    assert float(rows["all"][-1]) > 0  # wall / minimum
    simulated = [line.split() for line in out.splitlines() if line.strip().startswith("20 ")]
    assert len(simulated) == 1 and float(simulated[0][-1]) >= 1.0  # never faster than the quotas allow

@pytest.mark.benchmark
def test_app_benchmark_sees_the_window_shown(tmp_path) -> None:
    from tests.benchmarks import app

    seconds, rss, cpu = app.start_once(tmp_path / "app-home", idle_s=0.5, timeout=90)
    assert 0 < seconds < 90 and rss is not None and rss > 10_000_000 and cpu > 0
    lines = app.table([app.Figure("start, first (empty folder)", seconds, "s", 2.0),
                       app.Figure("idle", 250.0, "MB", 200.0)])
    assert lines[1].rstrip().endswith(" ok" if seconds < 2 else " MISS")
    assert lines[2].rstrip().endswith("1.25 MISS")
