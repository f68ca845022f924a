"""Keep the benchmarks runnable: each runs on a tiny size and prints its figures (no speed asserts)."""

from __future__ import annotations

import pytest

from tests.benchmarks import ingest


@pytest.mark.benchmark
def test_ingest_benchmark_runs(capsys, mysql_url) -> None:
    admin = mysql_url.rsplit("/", 1)[0] + "/"
    lines = ingest.run(2_000, admin)
    with capsys.disabled():
        print("\n" + "\n".join(lines))
    assert len(lines) == 2 and all("rows/s" in line for line in lines)


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
