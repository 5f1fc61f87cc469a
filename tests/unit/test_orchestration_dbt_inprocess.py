"""When a run worker's warm dbt may serve a run, and when the run must start the CLI instead.

The in-process build itself runs for real in tests/integration/orchestration
(test_embedded_end_to_end.py: the sensor's run through it; test_dagster_dev.py:
the daemon's WarmRunLauncher worker).
"""

from __future__ import annotations

import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from orchestration import dbt_inprocess
from orchestration.dbt_inprocess import WarmDbt, needs_cli, project_changed_after, take


@pytest.fixture
def project(tmp_path: Path) -> Path:
    root = tmp_path / "transformation"
    for relative in ("models/silver/a.sql", "models/_models.yml", "dbt_project.yml", "target/manifest.json",
                     "logs/dbt.log"):
        path = root / relative
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text("x")
    return root


@pytest.fixture
def warm(project: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[WarmDbt]:
    monkeypatch.setenv("LAKEHOUSE_STATE_DIR", "/lake/one")
    state = WarmDbt(project.resolve(), project.resolve(), "duckdb", (project / "run-target").resolve(),
                    env=dbt_inprocess.dbt_environment_now(), manifest=object())
    monkeypatch.setattr(dbt_inprocess, "_warm", state)
    yield state


def test_only_a_change_to_a_dbt_input_after_the_parse_counts(project: Path) -> None:
    time.sleep(0.02)
    parsed = time.time()
    time.sleep(0.02)
    assert not project_changed_after(project, parsed, margin=0)
    (project / "target" / "run_results.json").write_text("{}")  # dbt's own output
    (project / "logs" / "dbt.log").write_text("more")
    assert not project_changed_after(project, parsed, margin=0)
    (project / "models" / "silver" / "a.sql").write_text("select 2")
    assert project_changed_after(project, parsed, margin=0)


def test_a_deleted_model_counts_as_a_change(project: Path) -> None:
    (project / "models" / "silver" / "b.sql").write_text("select 1")
    time.sleep(0.02)
    parsed = time.time()
    time.sleep(0.02)
    (project / "models" / "silver" / "b.sql").unlink()
    assert project_changed_after(project, parsed, margin=0)


@pytest.mark.parametrize(("args", "cli"), [
    (["build", "--select", "fqn:x", "--full-refresh"], False),
    (["build", "--vars", "{day: 1}"], True),  # vars can change what the parse produced
    (["build", "--target-path=/elsewhere"], True),
    (["build", "--target", "dremio"], True),
])
def test_flags_the_parse_ahead_fixed_send_the_call_to_the_cli(args: list[str], cli: bool) -> None:
    assert needs_cli(args) is cli


def test_a_run_with_the_parsed_parameters_takes_the_warm_dbt_once(warm: WarmDbt, project: Path) -> None:
    warm.parsed_at = time.time() + 10  # after the fixture wrote the project, with the clock margin
    assert take(project, project, "duckdb", project / "run-target") is warm
    assert dbt_inprocess.current() is None
    assert take(project, project, "duckdb", project / "run-target") is None  # the next call starts the CLI


@pytest.mark.parametrize("change", ["target", "target_path", "project", "environment", "new variable"])
def test_a_run_with_other_parameters_or_environment_starts_the_cli(warm: WarmDbt, project: Path, tmp_path: Path,
                                                                    monkeypatch: pytest.MonkeyPatch, change: str) -> None:
    warm.parsed_at = time.time() + 10  # after the fixture wrote the project, with the clock margin
    args = {"project_dir": project, "profiles_dir": project, "target": "duckdb", "target_path": project / "run-target"}
    if change == "environment":  # e.g. settings of another lakehouse: profiles.yml would read other values
        monkeypatch.setenv("LAKEHOUSE_STATE_DIR", "/lake/two")
    elif change == "new variable":  # one more setting than at the parse
        monkeypatch.setenv("LAKEHOUSE_TEST_ONLY_SETTING", "1")
    elif change == "project":  # dagster-dbt's temporary copy for very large selections
        args["project_dir"] = tmp_path / "copy"
    elif change in ("target", "target_path"):
        args[change] = "dremio" if change == "target" else tmp_path / "elsewhere"
    assert take(**args) is None


def test_a_project_changed_since_the_parse_is_parsed_again(warm: WarmDbt, project: Path,
                                                           monkeypatch: pytest.MonkeyPatch) -> None:
    warm.parsed_at = time.time() - 60
    (project / "models" / "silver" / "a.sql").write_text("select 2")
    fresh = WarmDbt(warm.project_dir, warm.profiles_dir, warm.target, warm.target_path, env=warm.env, manifest=object())
    parsed: list[Path] = []

    def warm_up(project_dir: Path, profiles_dir: Path, target: str, target_path: Path,
                compile_ahead: bool = True) -> WarmDbt:
        parsed.append(project_dir)
        return fresh

    monkeypatch.setattr(dbt_inprocess, "warm_up", warm_up)
    assert take(project, project, "duckdb", project / "run-target") is fresh
    assert parsed == [warm.project_dir]


def test_the_warm_up_compiles_every_macro_into_dbts_template_cache_and_skips_a_broken_one() -> None:
    from types import SimpleNamespace

    from dbt_common.clients.jinja import template_cache

    good = SimpleNamespace(name="cents", unique_id="macro.p.cents", macro_sql="{% macro cents(x) %}{{ x }} * 100{% endmacro %}")
    broken = SimpleNamespace(name="broken", unique_id="macro.p.broken", macro_sql="{% macro broken() %}{% if %}{% endmacro %}")
    manifest = SimpleNamespace(macros={"macro.p.cents": good, "macro.p.broken": broken})
    assert dbt_inprocess.compile_macros(manifest) == 1
    assert good.macro_sql in template_cache.file_cache and broken.macro_sql not in template_cache.file_cache
    assert template_cache.get_node_template(good).module.dbt_macro__cents(7).strip() == "7 * 100"  # dbt names macros so


def test_compiling_ahead_stops_when_told() -> None:
    import threading
    from types import SimpleNamespace

    macro = SimpleNamespace(name="m", unique_id="macro.p.m", macro_sql="{% macro m() %}1{% endmacro %}")
    stop = threading.Event()
    stop.set()
    assert dbt_inprocess.compile_macros(SimpleNamespace(macros={"macro.p.m": macro}), stop) == 0


def test_the_run_taking_the_warm_dbt_stops_its_macro_compilation_first(warm: WarmDbt, project: Path) -> None:
    """The build must not share dbt's template cache with the thread compiling ahead, nor wait for all of it."""
    import threading

    started = threading.Event()

    def compile_until_stopped() -> None:
        started.set()
        warm.stop_compiling.wait(30)

    warm.parsed_at = time.time() + 10  # after the fixture wrote the project, with the clock margin
    warm.compiling = threading.Thread(target=compile_until_stopped)
    warm.compiling.start()
    assert started.wait(5)
    assert take(project, project, "duckdb", project / "run-target") is warm
    assert not warm.compiling.is_alive()
