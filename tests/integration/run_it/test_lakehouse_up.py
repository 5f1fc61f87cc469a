"""The README's main command, used as a newcomer would: ``lakehouse up`` on the embedded default.

Real processes throughout: the listener watching a landing folder, the Dagster
webserver and daemon with ``bronze_sensor``, dbt on DuckDB. The test drops
nothing itself until the sample (dropped by ``up`` on its first start) is in
gold, then copies one sales file into the landing folder and waits for its
month in ``gold.sales_monthly``; Ctrl-C (SIGINT) must leave no process behind.
"""

from __future__ import annotations

import json
import os
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

import pytest
import requests

PROJECT = Path(__file__).resolve().parents[3]
SALES_HEADER = "sale_id,customer_id,vehicle_id,model_id,sale_date,sale_price_usd,discount_usd,payment_method,dealership,state"


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _query(env: dict[str, str], sql: str) -> list[dict]:
    out = subprocess.run([sys.executable, "-m", "lakehouse.cli", "query", "--json", sql], env=env, cwd=PROJECT,
                         capture_output=True, text=True, timeout=60)
    return json.loads(out.stdout) if out.returncode == 0 else []


def _wait(what: str, predicate, timeout: float, up: subprocess.Popen) -> None:  # noqa: ANN001
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        assert up.poll() is None, f"lakehouse up exited ({up.returncode}) while waiting for {what}"
        if predicate():
            return
        time.sleep(2)
    pytest.fail(f"timed out after {timeout:.0f}s waiting for {what}")


def _descendants(pid: int) -> set[int]:
    found = set()
    for proc in Path("/proc").iterdir():
        if proc.name.isdigit():
            try:
                if (proc / "environ").read_bytes().find(f"LAKEHOUSE_UP_TEST={pid}".encode()) >= 0:
                    found.add(int(proc.name))
            except OSError:
                pass
    return found


def test_lakehouse_up_takes_a_dropped_file_to_gold_and_ctrl_c_stops_everything(tmp_path: Path) -> None:
    dagster_port, listener_port = _free_port(), _free_port()
    env = dict(os.environ, LAKEHOUSE_MODE="embedded", LAKEHOUSE_STATE_DIR=str(tmp_path / "state"), DO_NOT_TRACK="1")
    env["LAKEHOUSE_UP_TEST"] = str(os.getpid())  # marks every process of this stack, to find leftovers
    log = open(tmp_path / "up.log", "wb")  # noqa: SIM115 - closed below
    up = subprocess.Popen([sys.executable, "-m", "lakehouse.cli", "up", "--dagster-port", str(dagster_port),
                           "--listener-port", str(listener_port)], env=env, cwd=PROJECT, stdout=log, stderr=subprocess.STDOUT)
    try:
        _wait("the Dagster UI", lambda: _ok(f"http://127.0.0.1:{dagster_port}/server_info"), 240, up)
        _wait("the sample in gold.sales_monthly",
              lambda: _query(env, "select count(*) as n from gold.sales_monthly")[:1] not in ([], [{"n": 0}]), 420, up)
        landing = tmp_path / "state" / "landing" / "raw" / "ecoride" / "sales"
        row = "SALE-UP-TEST-1,CUST-000634,7FMEMBPA000000001,FM-EMBER,2030-01-15,61000.00,1000.00,lease,FutureMobility Denver Cherry Creek,CO"
        (tmp_path / "sales_2030-01.csv").write_text(f"{SALES_HEADER}\n{row}\n")
        os.replace(tmp_path / "sales_2030-01.csv", landing / "sales_2030-01.csv")  # one atomic drop, as mv does
        sql = "select units, revenue_usd from gold.sales_monthly where month = date '2030-01-01' and model_id = 'FM-EMBER'"
        _wait("the dropped sale in gold.sales_monthly", lambda: _one_sale(_query(env, sql)), 300, up)
    finally:
        up.send_signal(signal.SIGINT)
        code = up.wait(90)
        log.close()
    print((tmp_path / "up.log").read_text()[-3000:])
    assert code == 0
    time.sleep(1)
    assert _descendants(os.getpid()) == set(), "lakehouse up left processes behind"


def _one_sale(rows: list[dict]) -> bool:
    return len(rows) == 1 and int(rows[0]["units"]) == 1 and float(rows[0]["revenue_usd"]) == 60000.0


def _ok(url: str) -> bool:
    try:
        return requests.get(url, timeout=2).ok
    except requests.RequestException:
        return False
