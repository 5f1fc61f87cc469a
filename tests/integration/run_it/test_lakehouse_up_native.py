"""``lakehouse up --services native`` as the README shows it, with an upload by ``mc cp``.

A stack of its own: MinIO, Kafka and Nessie on free ports with their state in a
temporary folder (so the shared services are never touched), started by ``up``
itself, then the listener (Kafka source, signing with its own least-privilege
MinIO key) and Dagster. The committed sample must reach gold; then one sales
file uploaded with ``lakehouse mc cp`` must reach bronze and its month in
``gold.sales_monthly``, through a ``bronze_sensor`` run the Dagster UI's API
shows. ``lakehouse down`` from another terminal must stop ``up`` cleanly (exit
0) and leave no process behind: not the listener, not Dagster, not the services
``up`` started. The seconds from upload to bronze and to gold are printed.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
from pathlib import Path

import pytest
import requests

from lakehouse.status import RUNS_QUERY
from tests.integration.run_it.stack import (
    MARKER, PROJECT, has_rows, leftovers, month_sql, ok, one_sale, query, sale_file, tail, wait,
)
from tests.ports import free_ports

pytestmark = pytest.mark.integration

PORT_VARIABLES = ("LAKEHOUSE_MINIO_PORT", "LAKEHOUSE_MINIO_CONSOLE_PORT", "LAKEHOUSE_KAFKA_PORT",
                  "LAKEHOUSE_KAFKA_CONTROLLER_PORT", "LAKEHOUSE_NESSIE_PORT", "LAKEHOUSE_NESSIE_MANAGEMENT_PORT")
# Anything that would point this stack at the shared services or another bucket.
INHERITED = ("LAKEHOUSE_MODE", "LAKEHOUSE_S3_ENDPOINT", "LAKEHOUSE_KAFKA_BOOTSTRAP", "LAKEHOUSE_NESSIE_URI",
             "LAKEHOUSE_BUCKET", "LAKEHOUSE_BRONZE_NAMESPACE", "LAKEHOUSE_LISTENER_CREDENTIALS", *PORT_VARIABLES)


def _sensor_runs(dagster_port: int) -> list[dict]:
    answer = requests.post(f"http://127.0.0.1:{dagster_port}/graphql", json={"query": RUNS_QUERY}, timeout=10)
    runs = answer.json()["data"]["runsOrError"]["results"]
    return [r for r in runs if {"key": "dagster/sensor_name", "value": "bronze_sensor"} in r["tags"]]


def _environ(pid: int) -> list[str]:
    return Path(f"/proc/{pid}/environ").read_bytes().decode(errors="replace").split("\0")


def test_up_with_native_services_takes_an_mc_upload_to_gold_and_down_stops_everything(tmp_path: Path) -> None:
    *service_ports, dagster_port, listener_port = free_ports(len(PORT_VARIABLES) + 2)
    state = tmp_path / "state"
    env = {k: v for k, v in os.environ.items() if k not in INHERITED}
    env |= dict(zip(PORT_VARIABLES, map(str, service_ports), strict=True))
    env |= {"LAKEHOUSE_STATE_DIR": str(state), "DO_NOT_TRACK": "1", MARKER: str(os.getpid())}
    client_env = dict(env, LAKEHOUSE_MODE="native")  # a second terminal, as the announcement says
    log = tmp_path / "up.log"
    with log.open("wb") as out:
        up = subprocess.Popen([sys.executable, "-m", "lakehouse.cli", "up", "--services", "native",
                               "--dagster-port", str(dagster_port), "--listener-port", str(listener_port)],
                              env=env, cwd=PROJECT, stdout=out, stderr=subprocess.STDOUT)
    try:
        wait("the Dagster UI", lambda: ok(f"http://127.0.0.1:{dagster_port}/server_info"), 900, up, log)
        wait("the announcement", lambda: "the lakehouse is up" in tail(log), 120, up, log)
        assert "LAKEHOUSE_MODE=native lakehouse query" in tail(log)

        # Least privilege on this stack: the listener and Nessie sign with their own MinIO users.
        listener_pid = json.loads((state / "up.json").read_text())["listener"]
        assert "LAKEHOUSE_LISTENER_CREDENTIALS=listener" in _environ(listener_pid)
        nessie_props = (state / "services" / "nessie" / "config" / "application.properties").read_text()
        assert "lakehouse.s3.name=lakehouse-nessie\n" in nessie_props

        wait("the sample in gold.sales_monthly", lambda: has_rows(client_env, "gold.sales_monthly"), 900, up, log)

        upload = sale_file(tmp_path, "SALE-UP-NATIVE-1", "2031-02", vehicle=3)
        copied = subprocess.run([sys.executable, "-m", "lakehouse.cli", "mc", "cp", str(upload),
                                 "local/lakehouse/raw/ecoride/sales/"], env=client_env, cwd=PROJECT,
                                capture_output=True, text=True, timeout=60)
        assert copied.returncode == 0, copied.stderr
        bronze_s = wait("the upload in bronze", lambda: query(
            client_env, "select count(*) as n from bronze.ecoride_sales where sale_id = 'SALE-UP-NATIVE-1'") == [{"n": 1}],
            120, up, log)
        gold_s = wait("the upload in gold.sales_monthly",
                      lambda: one_sale(query(client_env, month_sql("2031-02"))), 600, up, log)
        print(f"mc cp -> bronze within {bronze_s:.1f}s, -> gold.sales_monthly within {gold_s:.1f}s "
              "(polled every 2 s, shared 2-core machine)")
        # The Dagster UI shows it: the sample's run and the upload's succeeded (a run ends after its dbt tests).
        wait("two successful bronze_sensor runs", lambda: sum(
            r["status"] == "SUCCESS" for r in _sensor_runs(dagster_port)) >= 2, 300, up, log)
        assert [r for r in _sensor_runs(dagster_port) if r["status"] == "FAILURE"] == []

        down = subprocess.run([sys.executable, "-m", "lakehouse.cli", "down"], env=client_env, cwd=PROJECT,
                              capture_output=True, text=True, timeout=300)
        assert down.returncode == 0, down.stderr
        assert "listener" in down.stdout and "dagster-webserver" in down.stdout
        code = up.wait(60)
    finally:
        if up.poll() is None:
            up.terminate()
            up.wait(120)
    print(tail(log, 3000))
    assert code == 0
    time.sleep(1)
    assert leftovers(str(os.getpid()), tmp_path) == {}, "lakehouse up --services native left processes behind"
    assert "stopped nessie, minio, kafka" in tail(log)
