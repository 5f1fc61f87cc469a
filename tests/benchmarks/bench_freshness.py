"""Freshness: sequential single-file uploads, upload returned -> the Iceberg commit holding the file.

Uploads are spaced by random pauses of 0-3 s: evenly spaced uploads lock onto
MinIO's 3 s queue tick and measure the tick's phase, not the pipeline. The
listeners must already be consuming ``settings``' bucket (see
:func:`tests.benchmarks.stack.listeners`).
"""

from __future__ import annotations

import io
import random
import time

from lakehouse.services.minio import minio_client
from lakehouse.settings import Settings
from tests.benchmarks.figures import percentile
from tests.benchmarks.stack import commit_times, table_facts

TABLE = "ecoride_sales"
HEADER = "sale_id,customer_id,vehicle_id,model_id,sale_date,sale_price_usd,discount_usd,payment_method,dealership,state\n"


def sales_csv(tag: str, rows: int) -> bytes:
    """A small valid sales file whose sale ids carry ``tag``."""
    body = "".join(
        f"SALE-{tag}-{i:05d},CUST-000001,7FMAURPA{i:09d},FM-AURORA,2024-01-02,41300.00,0.00,financing,FutureMobility Bench,OH\n"
        for i in range(rows)
    )
    return (HEADER + body).encode()


def wait_for_keys(settings: Settings, keys: set[str], timeout: float, rows: int) -> dict[str, float]:
    """Commit times of ``keys`` once the table holds ``rows`` rows (or what there is at ``timeout``).

    While waiting it reads only the current snapshot's row count (metadata): the
    commit times page Nessie's history and read every manifest, once, at the end,
    so the measurement is not disturbed by the measuring.
    """
    deadline = time.monotonic() + timeout
    while table_facts(settings, TABLE)[0] < rows and time.monotonic() < deadline:
        time.sleep(0.5)
    times = commit_times(settings, TABLE)
    return {k: v for k, v in times.items() if k in keys}


def run(settings: Settings, uploads: int, max_pause_s: float = 3.0, seed: int = 14, rows: int = 20) -> dict:
    """Upload ``uploads`` files one after another; the latency figures in seconds."""
    client, rng = minio_client(settings), random.Random(seed)
    rows_before = table_facts(settings, TABLE)[0]
    returned: dict[str, float] = {}
    for n in range(uploads):
        key = f"raw/ecoride/sales/bench/fresh/sales_{n:05d}.csv"
        data = sales_csv(f"F{n:05d}", rows)
        client.put_object(settings.bucket, key, io.BytesIO(data), len(data))
        returned[key] = time.time()
        time.sleep(rng.uniform(0, max_pause_s))
    committed = wait_for_keys(settings, set(returned), timeout=120.0, rows=rows_before + uploads * rows)
    latencies = [committed[k] - returned[k] for k in returned if k in committed]
    result = {"uploads": uploads, "committed": len(committed)}
    if latencies:
        result |= {"p50_s": round(percentile(latencies, 0.5), 3), "p95_s": round(percentile(latencies, 0.95), 3),
                   "max_s": round(max(latencies), 3), "min_s": round(min(latencies), 3)}
    return result
