"""The dbt project parses for Dremio without touching the DuckDB manifest; transform builds on the configured target."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from lakehouse.settings import Settings
from warehouse.cli import requested_target, transform_args
from warehouse.dbt import dbt_environment, dbt_target, project_dir, run_dbt


def test_dbt_parse_for_dremio_writes_its_own_manifest_with_the_seed_layout(tmp_path: Path) -> None:
    settings = Settings(state_dir=tmp_path / "state")
    target_path = tmp_path / "target-dremio"
    duckdb_manifest = project_dir(settings) / "target" / "manifest.json"
    before = duckdb_manifest.stat().st_mtime_ns if duckdb_manifest.exists() else None
    result = run_dbt(["parse", "--target", "dremio", "--target-path", str(target_path)], settings, target="dremio", capture=True)
    assert result.returncode == 0, result.stdout[-3000:]
    nodes = json.loads((target_path / "manifest.json").read_text())["nodes"].values()
    places = {(n["database"], n["schema"]) for n in nodes if n["resource_type"] == "model"}
    assert places == {("nessie", "silver"), ("lakehouse", "gold")}
    after = duckdb_manifest.stat().st_mtime_ns if duckdb_manifest.exists() else None
    assert before == after


def test_transform_runs_dbt_build_on_the_configured_target_unless_told_otherwise() -> None:
    assert transform_args([], "duckdb") == ["build", "--target", "duckdb"]
    assert transform_args(["--select", "gold"], "duckdb") == ["build", "--select", "gold", "--target", "duckdb"]
    assert transform_args(["--target=dremio"], "duckdb") == ["build", "--target=dremio"]
    assert requested_target(["-t", "dremio"], "duckdb") == "dremio"
    assert dbt_target(Settings(mode="docker")) == "dremio" and dbt_target(Settings(mode="native")) == "duckdb"


def test_the_dbt_environment_carries_the_settings_a_test_changed(tmp_path: Path) -> None:
    settings = Settings(state_dir=tmp_path, bronze_namespace="bronze_x", silver_namespace="silver_x")
    env = dbt_environment(settings, base={})
    assert env["LAKEHOUSE_BRONZE_NAMESPACE"] == "bronze_x" and env["LAKEHOUSE_SILVER_NAMESPACE"] == "silver_x"
    assert env["LAKEHOUSE_DUCKDB_PATH"] == str(tmp_path / "warehouse" / "lakehouse.duckdb")
    assert env["DO_NOT_TRACK"] == "1" and env["LAKEHOUSE_DBT_TARGET"] == "duckdb"


def test_transform_passes_options_to_dbt_as_the_help_shows(monkeypatch: pytest.MonkeyPatch) -> None:
    """`lakehouse transform --select x` failed: argparse's REMAINDER refuses a leading option."""
    from lakehouse import cli

    seen: list[list[str]] = []
    monkeypatch.setattr("warehouse.cli.run_dbt", lambda args, settings: seen.append(args) or _Done(2))
    for argv in (["transform", "--select", "gold+", "--full-refresh"], ["-v", "transform", "--", "--select", "gold+", "--full-refresh"]):
        assert cli.main(argv) == 2
        assert seen.pop() == ["build", "--select", "gold+", "--full-refresh", "--target", "duckdb"]
    assert cli.split_passthrough(["mc", "--version"]) == (["mc"], ["--version"])
    assert cli.split_passthrough(["transform", "--help"]) == (["transform", "--help"], None)
    assert cli.split_passthrough(["query", "--json", "select 1"]) == (["query", "--json", "select 1"], None)


class _Done:
    def __init__(self, returncode: int) -> None:
        self.returncode = returncode
