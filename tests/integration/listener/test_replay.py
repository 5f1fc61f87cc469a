"""``lakehouse replay`` loads what landed without (or before) a listener; the listener can do it at start-up."""

from __future__ import annotations

import json
import subprocess
import sys

import pytest
from minio import Minio

from lakehouse.settings import Settings
from tests.integration.listener.conftest import (
    PROJECT,
    Bronze,
    listener_env,
    position_group_at_end,
    put,
    running_listener,
    sales_csv,
    wait_for,
)

pytestmark = pytest.mark.integration

SALES = "raw/ecoride/sales/"


def replay(settings: Settings, *args: str) -> dict:
    proc = subprocess.run(
        [sys.executable, "-m", "lakehouse.cli", "replay", "--json", *args],
        env=listener_env(settings), cwd=PROJECT, capture_output=True, text=True, timeout=300, check=False,
    )
    assert proc.returncode == 0, proc.stderr[-3000:]
    return json.loads(proc.stdout)


def test_replay_loads_the_files_whose_notifications_were_lost_and_a_dry_run_loads_nothing(
    isolated_settings: Settings, s3: Minio
) -> None:
    files = {f"{SALES}before/f{i}.csv": sales_csv(i * 10, 2) for i in range(5)}
    files[f"{SALES}other/x.csv"] = sales_csv(500, 1)
    for key, data in files.items():
        put(s3, isolated_settings, key, data)
    bronze = Bronze(isolated_settings)

    dry = replay(isolated_settings, "--dry-run", "--prefix", f"{SALES}before/")
    assert (dry["listed"], dry["pending"], dry["loaded"]) == (5, 5, 0)
    assert sorted(dry["pending_keys"]) == sorted(k for k in files if "/before/" in k)
    assert bronze.rows_per_key("ecoride_sales") == {}

    done = replay(isolated_settings, "--prefix", f"{SALES}before/")
    assert (done["loaded"], done["rows"], done["complete"]) == (5, 10, True)
    everything = replay(isolated_settings)
    assert (everything["listed"], everything["pending"], everything["loaded"]) == (6, 1, 1)
    assert replay(isolated_settings)["pending"] == 0
    assert bronze.rows_per_key("ecoride_sales") == {key: data.count(b"\n") - 1 for key, data in files.items()}


def test_a_listener_started_with_replay_on_start_loads_files_that_predate_it(isolated_settings: Settings, s3: Minio) -> None:
    files = {f"{SALES}old/f{i}.csv": sales_csv(i * 10, 2) for i in range(3)}
    for key, data in files.items():
        put(s3, isolated_settings, key, data)
    position_group_at_end(isolated_settings)  # the group never sees these events: as if it started later
    bronze = Bronze(isolated_settings)
    with running_listener(isolated_settings, replay_on_start=True):
        wait_for("the old files", lambda: bronze.rows_per_key("ecoride_sales") == {key: 2 for key in files})
