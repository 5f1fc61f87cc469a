"""The dashboard really shows it: ``python -m orchestration.dev`` (webserver + daemon), a dropped
file, the sensor's tick and run read through GraphQL, then the UI in headless Chromium.

Chromium is Debian's package (scripts/test.sh installs it when missing), driven by
Playwright without any browser download. Under CI=true anything that cannot start
fails the test; elsewhere only a missing chromium skips the browser test.
"""

from __future__ import annotations

import os
import shutil
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from lakehouse.settings import Settings
from orchestration.launcher import WORKER_PID_TAG
from tests.conftest import running_in_ci
from tests.integration.orchestration.dagster_dev import PROJECT_ROOT, DagsterDev
from tests.integration.orchestration.lake import Lake

SALES = "ecoride/sales/sales_2023-01.csv"
NEXT_SALES = "ecoride/sales/sales_2023-02.csv"
REFERENCE = ("ecoride/vehicles/vehicles.csv", "ecoride/customers/customers.csv")
ACTIVE = {"QUEUED", "NOT_STARTED", "STARTING", "STARTED", "CANCELING"}
DOCS_IMG = PROJECT_ROOT / "docs" / "img"


@pytest.fixture(scope="module")
def artifacts(base_settings: Settings) -> Path:
    path = base_settings.state_dir / "test-artifacts" / "orchestration"
    path.mkdir(parents=True, exist_ok=True)
    return path


@pytest.fixture(scope="module")
def stack(base_settings: Settings, tmp_path_factory: pytest.TempPathFactory, artifacts: Path) -> Iterator[tuple[Lake, DagsterDev]]:
    lake = Lake.create(base_settings, tmp_path_factory.mktemp("state"))
    env = {**os.environ, "LAKEHOUSE_MODE": "embedded", "LAKEHOUSE_STATE_DIR": str(lake.settings.state_dir),
           "LAKEHOUSE_SENSOR_INTERVAL_SECONDS": "2"}
    env.pop("DAGSTER_HOME", None)  # orchestration.dev puts it under the temp state dir
    dev = DagsterDev(env, artifacts / "dagster-dev.log")
    try:
        dev.wait_ready(timeout=300)
    except RuntimeError as exc:
        dev.stop()
        pytest.fail(f"dagster dev did not start: {exc}", pytrace=False)
    yield lake, dev
    dev.stop()


def wait_for(what: str, probe, timeout: float):  # noqa: ANN001, ANN201 - small polling helper
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        value = probe()
        if value:
            return value
        time.sleep(1)
    pytest.fail(f"timed out after {timeout:.0f}s waiting for {what}")


def test_a_dropped_file_shows_up_as_a_sensor_tick_and_a_successful_run(stack) -> None:
    lake, dev = stack
    assert dev.sensor()["status"] == "RUNNING"  # on by default
    wait_for("a first (skipped) tick", lambda: dev.sensor()["ticks"], 60)

    lake.drop_sample(*REFERENCE, SALES)
    # One batch, but one Iceberg commit per table: a tick may fall between the commits and
    # launch a run for the first table(s); the rest then waits for that run and follows in one more.
    committed = lake.catalog.load_table((lake.settings.bronze_namespace, "ecoride_sales")).current_snapshot().timestamp_ms / 1000

    def sensor_runs() -> dict[str, dict]:
        return {r["runId"]: r for r in dev.runs({"dagster/sensor_name": "bronze_sensor"})}

    def tables(run: dict) -> set[str]:
        return set(next(t["value"] for t in run["tags"] if t["key"] == "lakehouse/bronze_tables").split(","))

    def sales_run_finished():  # noqa: ANN202
        runs = [r for r in sensor_runs().values() if "ecoride_sales" in tables(r)]
        return runs[0] if runs and runs[0]["status"] not in ACTIVE else None

    run = wait_for("the sensor's run for the sales table to finish", sales_run_finished, 900)
    tick = next(t for t in dev.sensor()["launches"] if run["runId"] in t["runIds"])
    print(f"\nbronze commit -> tick {tick['timestamp'] - committed:.1f}s; -> run finished {run['endTime'] - committed:.1f}s "
          f"(run {run['endTime'] - run['startTime']:.1f}s)")
    assert run["status"] == "SUCCESS", dev.log_tail()
    launched = sensor_runs().values()
    assert all(r["status"] == "SUCCESS" for r in launched), dev.log_tail()
    assert set().union(*map(tables, launched)) == {"ecoride_customers", "ecoride_sales", "ecoride_vehicles"}
    files = [int(next(t["value"] for t in r["tags"] if t["key"] == "lakehouse/bronze_files")) for r in launched]
    assert sum(files) == 3 and len(launched) <= 3
    selected = {tuple(k["path"]) for k in run["assetSelection"]}
    assert ("gold", "sales_monthly") in selected
    assert not any(path[0] == "bronze" for path in selected)
    # Every run went through the instance's WarmRunLauncher (orchestration/instance.py).
    assert all(any(t["key"] == WORKER_PID_TAG for t in r["tags"]) for r in launched)
    # A worker started for its run (the first one: no spare yet) runs the dbt CLI, not dbt in-process.
    cold = [m for m in map(dev.run_messages, (r["runId"] for r in launched)) if any("started for this run" in x for x in m)]
    assert cold and not any("dbt runs in this process" in x for m in cold for x in m)


def test_the_next_file_runs_dbt_in_a_worker_that_started_it_ahead(stack) -> None:
    """The daemon's WarmRunLauncher: a spare worker imports dbt and parses the project before its run."""
    lake, dev = stack
    wait_for("every run to end", lambda: all(r["status"] not in ACTIVE for r in dev.runs()), 900)
    before = {r["runId"] for r in dev.runs()}
    lake.drop_sample(NEXT_SALES)

    def new_run_finished():  # noqa: ANN202
        runs = [r for r in dev.runs({"dagster/sensor_name": "bronze_sensor"}) if r["runId"] not in before]
        return runs[0] if runs and runs[0]["status"] not in ACTIVE else None

    run = wait_for("the sensor's run for the next sales file", new_run_finished, 900)
    messages = dev.run_messages(run["runId"])
    assert run["status"] == "SUCCESS", dev.log_tail()
    assert any("started ahead of the run" in m for m in messages), messages
    assert any("dbt runs in this process" in m for m in messages), messages
    assert any("published" in m for m in messages), messages  # dbt let go of the DuckDB file


def chromium() -> str:
    path = shutil.which("chromium")
    if path is None:
        if running_in_ci():
            pytest.fail("chromium is not installed (scripts/test.sh installs Debian's package)", pytrace=False)
        pytest.skip("chromium is not installed: apt-get install -y chromium")
    return path


def test_the_ui_shows_the_asset_graph_and_the_sensor_tick(stack, artifacts: Path) -> None:
    from playwright.sync_api import sync_playwright

    _, dev = stack
    run_ids = [r for t in dev.sensor()["launches"] for r in t["runIds"]]
    assert run_ids, "run the tick test first (module order)"
    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=chromium(), args=["--no-sandbox", "--disable-dev-shm-usage"])
        try:
            page = browser.new_page(viewport={"width": 1800, "height": 1100})
            page.goto(f"{dev.url}/assets", timeout=120_000)
            for folder in ("bronze", "silver", "gold"):
                page.get_by_text(folder, exact=True).first.wait_for(timeout=120_000)
            _dismiss_welcome(page)
            page.screenshot(path=str(artifacts / "catalog.png"))

            # The whole graph, groups collapsed: bronze -> silver -> gold with their assets' states.
            page.goto(f"{dev.url}/asset-groups", timeout=120_000)
            page.get_by_text("Materialize all").first.wait_for(timeout=120_000)
            _dismiss_welcome(page)
            for group in ("bronze", "silver", "gold"):  # in the sidebar AND as a node of the graph
                wait_for(f"group {group} in the graph", lambda g=group: page.get_by_text(g, exact=True).count() >= 2, 120)
            _settle(page)
            page.screenshot(path=str(artifacts / "asset-graph.png"))

            # One gold asset's lineage: its bronze table, the silver model, the gold view.
            page.goto(f"{dev.url}/assets/gold/sales_monthly?view=lineage&lineageScope=upstream&lineageDepth=2", timeout=120_000)
            for text in ("bronze", "silver", "gold", "ecoride_sales", "sales_monthly"):
                page.get_by_text(text, exact=True).first.wait_for(timeout=120_000)
            _settle(page)
            page.screenshot(path=str(artifacts / "lineage.png"))

            # The sensor's ticks that requested a run, the first one's run id in view.
            page.goto(f"{dev.url}/locations/orchestration.definitions/sensors/bronze_sensor", timeout=120_000)
            _dismiss_welcome(page)
            page.get_by_text("All ticks").first.click(timeout=120_000)
            page.get_by_text("Requested", exact=True).first.click(timeout=30_000)
            page.get_by_text(run_ids[0][:8]).first.wait_for(timeout=120_000)  # the tick's launched run
            page.screenshot(path=str(artifacts / "sensor.png"))
        finally:
            browser.close()
    if os.environ.get("LAKEHOUSE_UPDATE_DOC_IMAGES") == "1":  # refresh docs/img on purpose only
        DOCS_IMG.mkdir(exist_ok=True)
        for name in ("asset-graph.png", "lineage.png", "sensor.png"):
            shutil.copy(artifacts / name, DOCS_IMG / f"dagster-{name}")


def _settle(page) -> None:  # noqa: ANN001
    """Let the graph finish laying out and fetching asset statuses before a screenshot."""
    for placeholder in ("fetching statuses", "Loading..."):
        try:
            page.get_by_text(placeholder).first.wait_for(state="detached", timeout=60_000)
        except Exception:  # noqa: BLE001 - Playwright's TimeoutError: a picture with a placeholder still shows the graph
            pass
    time.sleep(2)


def _dismiss_welcome(page) -> None:  # noqa: ANN001
    """The first visit's "Join the Dagster community" dialog covers the page."""
    skip = page.get_by_role("button", name="Skip")
    try:
        skip.click(timeout=5_000)
    except Exception:  # noqa: BLE001 - Playwright's TimeoutError: no dialog this time
        pass
