"""Burst: many small sales files uploaded at once; time until all are in bronze, files/s, commits.

The clock starts when the first upload starts and stops at the commit of the
last file (its snapshot's timestamp, see :mod:`tests.benchmarks.stack`). The
listeners must already be consuming ``settings``' bucket.
"""

from __future__ import annotations

import io
import time
from concurrent.futures import ThreadPoolExecutor

from lakehouse.services.minio import minio_client
from lakehouse.settings import Settings
from tests.benchmarks.bench_freshness import TABLE, sales_csv, wait_for_keys
from tests.benchmarks.stack import table_facts


def run(settings: Settings, files: int, rows: int = 100, workers: int = 16) -> dict:
    """Upload ``files`` files of ``rows`` rows with ``workers`` threads; the burst figures."""
    client = minio_client(settings)
    payloads = {f"raw/ecoride/sales/bench/burst/{n // 100:03d}/sales_{n:05d}.csv": sales_csv(f"B{n:05d}", rows)
                for n in range(files)}

    def put(item: tuple[str, bytes]) -> None:
        client.put_object(settings.bucket, item[0], io.BytesIO(item[1]), len(item[1]))

    rows_before, commits_before = table_facts(settings, TABLE)  # the warm-up's
    started = time.time()
    with ThreadPoolExecutor(workers) as pool:
        list(pool.map(put, payloads.items()))
    uploaded = time.time() - started
    committed = wait_for_keys(settings, set(payloads), timeout=max(120.0, files * 0.5), rows=rows_before + files * rows)
    rows_after, commits_after = table_facts(settings, TABLE)
    table_rows, commits = rows_after - rows_before, commits_after - commits_before
    seconds = (max(committed.values()) - started) if committed else float("nan")
    return {
        "files": files, "files_in_bronze": len(committed), "rows_in_bronze": table_rows, "rows_expected": files * rows,
        "upload_s": round(uploaded, 2), "seconds": round(seconds, 2),
        "files_per_s": round(len(committed) / seconds, 1) if committed else 0.0,
        "commits": commits, "files_per_commit": round(len(committed) / commits, 1) if commits else 0.0,
    }
