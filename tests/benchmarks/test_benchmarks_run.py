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
