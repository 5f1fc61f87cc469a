"""The README's main command, used as a newcomer would: ``lakehouse up`` on the embedded default.

Real processes throughout: the listener watching a landing folder, the Dagster
webserver and daemon with ``bronze_sensor``, dbt on DuckDB. The test drops
nothing itself until the sample (dropped by ``up`` on its first start) is in
gold, then copies one sales file into the landing folder and waits for its
month in ``gold.sales_monthly``; Ctrl-C (SIGINT) must leave no process behind.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

from tests.integration.run_it.stack import (
    MARKER, PROJECT, has_rows, leftovers, month_sql, ok, one_sale, query, sale_file, tail, wait,
)
from tests.ports import free_ports


def test_lakehouse_up_takes_a_dropped_file_to_gold_and_ctrl_c_stops_everything(tmp_path: Path) -> None:
    dagster_port, listener_port = free_ports(2)
    env = dict(os.environ, LAKEHOUSE_MODE="embedded", LAKEHOUSE_STATE_DIR=str(tmp_path / "state"), DO_NOT_TRACK="1")
    env[MARKER] = str(os.getpid())
    log = tmp_path / "up.log"
    with log.open("wb") as out:
        up = subprocess.Popen([sys.executable, "-m", "lakehouse.cli", "up", "--dagster-port", str(dagster_port),
                               "--listener-port", str(listener_port)], env=env, cwd=PROJECT, stdout=out, stderr=subprocess.STDOUT)
    try:
        wait("the Dagster UI", lambda: ok(f"http://127.0.0.1:{dagster_port}/server_info"), 240, up, log)
        wait("the sample in gold.sales_monthly", lambda: has_rows(env, "gold.sales_monthly"), 420, up, log)
        landing = tmp_path / "state" / "landing" / "raw" / "ecoride" / "sales"
        dropped = sale_file(tmp_path, "SALE-UP-TEST-1", "2030-01", vehicle=2)
        os.replace(dropped, landing / dropped.name)  # one atomic drop, as mv does
        wait("the dropped sale in gold.sales_monthly", lambda: one_sale(query(env, month_sql("2030-01"))), 300, up, log)
    finally:
        up.send_signal(signal.SIGINT)
        code = up.wait(90)
    print(tail(log, 3000))
    assert code == 0
    time.sleep(1)
    assert leftovers(str(os.getpid())) == {}, "lakehouse up left processes behind"
