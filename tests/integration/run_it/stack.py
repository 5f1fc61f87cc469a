"""Helpers for the tests that run ``lakehouse up`` as a newcomer would (real processes, no fakes)."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path

import pytest
import requests

PROJECT = Path(__file__).resolve().parents[3]
SALES_HEADER = "sale_id,customer_id,vehicle_id,model_id,sale_date,sale_price_usd,discount_usd,payment_method,dealership,state"
# Marks every process a test's stack starts (inherited through the environment), to find leftovers.
MARKER = "LAKEHOUSE_UP_TEST"


def sale_file(folder: Path, sale_id: str, month: str, vehicle: int) -> Path:
    """A one-row sales CSV for ``month`` (``YYYY-MM``): FM-EMBER in CO, net 60,000 USD.

    ``vehicle`` numbers a VIN the sample never sold (each vehicle is sold once: a dbt test)."""
    row = (f"{sale_id},CUST-000634,7FMEMBPA9{vehicle:08d},FM-EMBER,{month}-15,61000.00,1000.00,lease,"
           "FutureMobility Denver Cherry Creek,CO")
    path = folder / f"sales_{month}.csv"
    path.write_text(f"{SALES_HEADER}\n{row}\n")
    return path


def month_sql(month: str) -> str:
    return (f"select units, revenue_usd from gold.sales_monthly where month = date '{month}-01' "
            "and model_id = 'FM-EMBER' and state = 'CO'")


def one_sale(rows: list[dict]) -> bool:
    return len(rows) == 1 and int(rows[0]["units"]) == 1 and float(rows[0]["revenue_usd"]) == 60000.0


def query(env: dict[str, str], sql: str) -> list[dict]:
    """``lakehouse query --json`` in a process of its own; [] while the table is not there yet."""
    out = subprocess.run([sys.executable, "-m", "lakehouse.cli", "query", "--json", sql], env=env, cwd=PROJECT,
                         capture_output=True, text=True, timeout=120)
    return json.loads(out.stdout) if out.returncode == 0 else []


def has_rows(env: dict[str, str], table: str) -> bool:
    return query(env, f"select count(*) as n from {table}")[:1] not in ([], [{"n": 0}])


def ok(url: str) -> bool:
    try:
        return requests.get(url, timeout=2).ok
    except requests.RequestException:
        return False


def wait(what: str, predicate: Callable[[], object], timeout: float, up: subprocess.Popen, log: Path) -> float:
    """Poll ``predicate`` until true; fails if ``up`` exits meanwhile. Returns the seconds waited."""
    started = time.monotonic()
    while time.monotonic() - started < timeout:
        if up.poll() is not None:
            pytest.fail(f"lakehouse up exited ({up.returncode}) while waiting for {what}:\n{tail(log)}")
        if predicate():
            return time.monotonic() - started
        time.sleep(2)
    pytest.fail(f"timed out after {timeout:.0f}s waiting for {what}:\n{tail(log)}")


def tail(log: Path, chars: int = 4000) -> str:
    return log.read_text(errors="replace")[-chars:] if log.exists() else ""


def leftovers(marker: str, *paths: Path) -> dict[int, str]:
    """Processes (pid -> command line) that carry ``MARKER=marker`` in their environment or
    one of ``paths`` on their command line (the native services get a clean environment)."""
    found = {}
    needles = [str(p).encode() for p in paths]
    for proc in Path("/proc").iterdir():
        if not proc.name.isdigit() or int(proc.name) == os.getpid():
            continue
        try:
            cmdline = (proc / "cmdline").read_bytes()
            environ = (proc / "environ").read_bytes()
            state = (proc / "stat").read_text().rsplit(")", 1)[1].split()[0]
        except (OSError, IndexError):
            continue
        if state != "Z" and (f"{MARKER}={marker}".encode() in environ.split(b"\0")
                             or any(n in cmdline for n in needles)):
            found[int(proc.name)] = cmdline.replace(b"\0", b" ").decode(errors="replace")[:200]
    return found
