"""The benchmark suite's --quick mode on the real services, so it cannot rot (issue 14).

It asserts only that every figure was produced and is sane (positive, the
counts match what was uploaded), never a time: a shared CI machine is allowed
to be slow. Starts its own private stack (tests.benchmarks.stack), so the
shared services' configuration is never switched.
"""

from __future__ import annotations

import json
import math
from pathlib import Path

import pytest

from tests.benchmarks.__main__ import main

pytestmark = [pytest.mark.integration, pytest.mark.timeout(2400)]

EXPECTED_GROUPS = {"freshness", "burst", "bulk", "downstream"}


@pytest.fixture(scope="module")
def report(tmp_path_factory: pytest.TempPathFactory) -> dict:
    out = tmp_path_factory.mktemp("bench")
    status = main(["--quick", "--out", str(out), "--workdir", str(tmp_path_factory.mktemp("bench-work"))])
    data = json.loads((out / "bench.json").read_text(encoding="utf-8"))
    assert status == 0, f"a part of the suite failed: {data['errors']}"
    assert (out / "bench.png").stat().st_size > 10_000
    return data


def test_every_part_ran_and_produced_its_figures(report: dict) -> None:
    assert report["quick"] is True and report["errors"] == {}
    assert {f["group"] for f in report["figures"]} == EXPECTED_GROUPS
    names = [f["name"] for f in report["figures"]]
    for delivery in ("queued", "direct"):
        assert sum(name.startswith(f"{delivery} ") and "uploads" in name for name in names) == 3  # p50, p95, max
        assert sum(name.startswith(f"{delivery} ") and "files" in name for name in names) == 2  # files/s, per commit


def test_every_figure_is_positive_and_finite_and_carries_machine_date_and_verdict(report: dict) -> None:
    for f in report["figures"]:
        assert isinstance(f["value"], (int, float)) and math.isfinite(f["value"]) and f["value"] > 0, f
        assert f["machine"]["cores"] > 0 and f["machine"]["memory_gb"] > 0 and f["date"], f
        assert (f["ok"] is None) == (f["target"] == ""), f
        if f["baseline"] is not None:
            assert f["baseline"] > 0, f


def test_counts_match_what_was_uploaded(report: dict) -> None:
    for f in report["figures"]:
        d = f["detail"]
        if f["group"] == "freshness":
            assert d["committed"] == d["uploads"] == 10
            assert 0 < d["min_s"] <= d["p50_s"] <= d["p95_s"] <= d["max_s"]
        if f["group"] == "burst":
            assert d["files_in_bronze"] == d["files"] == 100
            assert d["rows_in_bronze"] == d["rows_expected"] == 100 * 100
            assert 1 <= d["commits"] <= d["files"]
        if f["group"] == "bulk":
            assert d["rows"] > 100_000 and d["csv_mb"] > 15
            assert d["ours_parquet_mb"] > 0 and d["baseline_parquet_mb"] > 0
        if f["group"] == "downstream":
            assert d["drops"] == 2 and d["models_run_p50"] <= d["models_in_graph"]


def test_the_chart_and_the_table_read_the_same_figures(report: dict, tmp_path: Path) -> None:
    from tests.benchmarks import chart, suite
    from tests.benchmarks.figures import table

    figures = suite.figures_of(report)
    text = table(figures)
    assert all(f.name in text for f in figures)
    assert chart.draw(figures, tmp_path / "again.png", "again").stat().st_size > 10_000
