"""The ledger answers exactly — loaded, duplicate, new version — whatever happened in between.

Run against the SQLite catalog and against Nessie on MinIO (``backend``).
"""

from __future__ import annotations

import itertools
import uuid
from collections import Counter
from datetime import date, timedelta

import pyarrow as pa

from ingestion import ledger
from ingestion.datafiles import write_data_files
from ingestion.maintenance import MaintenanceOptions, maintain
from ingestion.schema import arrow_schema
from ingestion.source import SourceObject
from tests.integration.ingestion.conftest import Backend, sales_csv
from tests.integration.ingestion.test_bronze_loader import sale_rows


def land(backend: Backend, start: int, count: int, version: str = "") -> list[SourceObject]:
    return [backend.put(f"raw/ecoride/sales/ledger/s_{n:05d}.csv", sales_csv(*sale_rows(1, n)) + version)
            for n in range(start, start + count)]


def outcomes(backend: Backend, objects: list[SourceObject]) -> Counter:
    return Counter(o.outcome for o in backend.loader().load(objects))


def per_key(backend: Backend) -> Counter:
    return Counter(backend.rows("ecoride_sales").column("_source_key").to_pylist())


def test_batches_above_and_below_the_old_in_list_limit_answer_exactly(backend: Backend) -> None:
    first = land(backend, 0, 250)
    assert outcomes(backend, first) == {"loaded": 250}
    replaced = land(backend, 0, 5, version="\n")  # same keys, new content: new etags
    fresh = land(backend, 250, 100)

    assert outcomes(backend, first[5:155] + replaced + fresh) == {"duplicate": 150, "loaded": 105}
    assert outcomes(backend, first[:3]) == {"duplicate": 3}  # an old version is still loaded, below any limit
    counts = per_key(backend)
    assert len(counts) == 350 and all(counts[o.key] == (2 if o in first[:5] else 1) for o in first + fresh)


def test_a_restart_that_loses_the_index_answers_the_same(backend: Backend) -> None:
    objects = land(backend, 0, 30)
    backend.loader().load(objects[:20])
    ledger.forget_indexes()

    assert backend.loader().pending(objects) == objects[20:]
    assert outcomes(backend, objects) == {"duplicate": 20, "loaded": 10}


def test_a_second_writer_committing_in_between_is_seen(backend: Backend) -> None:
    objects = land(backend, 0, 12)
    backend.loader().load(objects[:4])  # our index is warm now
    # Another instance (or Spark) appends rows of four files, several per data file, without our loader.
    table = backend.table("ecoride_sales")
    target = arrow_schema(table.schema())
    columns = {f.name: pa.nulls(4, f.type) for f in target}
    columns["sale_id"] = pa.array([f"X{i}" for i in range(4)])
    columns["_source_key"] = pa.array([o.key for o in objects[4:8]])
    columns["_source_etag"] = pa.array([o.etag for o in objects[4:8]])
    columns["sale_date"] = pa.array([date(2024, 1, 2)] * 4, pa.date32())
    files = write_data_files(table.metadata, table.io, pa.Table.from_pydict(columns, schema=target),
                             uuid.uuid4(), itertools.count())
    assert len(files) == 1  # one data file holding four source files: its bounds differ
    with table.transaction() as txn, txn.update_snapshot().fast_append() as append:
        append.append_data_file(files[0])

    assert outcomes(backend, objects) == {"duplicate": 8, "loaded": 4}
    assert set(per_key(backend).values()) == {1}


def test_compaction_and_snapshot_expiry_in_between_keep_the_ledger_exact(backend: Backend) -> None:
    objects = land(backend, 0, 40)
    for start in range(0, 30, 10):
        backend.loader().load(objects[start:start + 10])
    before = per_key(backend)
    options = MaintenanceOptions(expire_older_than=timedelta(0), retain_last=1)
    [report] = maintain(backend.catalog, backend.settings.bronze_namespace, table="ecoride_sales",
                        nessie=backend.name == "nessie", options=options)

    assert report.data_files_after < report.data_files_before
    assert per_key(backend) == before
    assert backend.name == "nessie" or report.snapshots_expired >= 2
    assert outcomes(backend, objects) == {"duplicate": 30, "loaded": 10}
    ledger.forget_indexes()  # a fresh process reads the compacted files' lineage once
    assert backend.loader().pending(objects) == []


def test_maintain_on_2000_source_files_leaves_few_data_files_and_the_ledger_skips_all(backend: Backend) -> None:
    objects = land(backend, 0, 2000)
    for start in range(0, 2000, 500):
        assert outcomes(backend, objects[start:start + 500]) == {"loaded": 500}
    before = backend.rows("ecoride_sales").sort_by("_source_key")
    files_before = sum(1 for _ in backend.table("ecoride_sales").scan().plan_files())

    [report] = maintain(backend.catalog, backend.settings.bronze_namespace, table="ecoride_sales",
                        nessie=backend.name == "nessie")

    files_after = sum(1 for _ in backend.table("ecoride_sales").scan().plan_files())
    assert files_before >= 2000 and files_after <= 50, (files_before, files_after)
    assert report.data_files_after == files_after
    after = backend.rows("ecoride_sales").sort_by("_source_key")
    assert after.num_rows == before.num_rows == 2000 and after.equals(before)
    assert backend.table("ecoride_sales").current_snapshot().summary.operation.value == "replace"
    ledger.forget_indexes()
    assert backend.loader().pending(objects) == []
    assert outcomes(backend, objects[:500]) == {"duplicate": 500}


def test_a_zero_byte_object_is_quarantined_as_empty_file_and_no_longer_pending(backend: Backend) -> None:
    empty = backend.put("raw/ecoride/sales/empty.csv", b"")
    [outcome] = backend.loader().load([empty])

    assert outcome.outcome == "quarantined" and outcome.error.reason == "empty_file"
    assert backend.loader().pending(backend.store.list("raw/")) == []
    assert not backend.table("ecoride_sales").current_snapshot().summary.get("lakehouse.files")  # no data commit


def test_an_object_overwritten_after_it_was_listed_is_not_loaded_under_the_old_etag(backend: Backend) -> None:
    old = backend.put("raw/ecoride/sales/s.csv", sales_csv(*sale_rows(2)))
    new = backend.put("raw/ecoride/sales/s.csv", sales_csv(*sale_rows(3, 10)))  # replaced before the load
    [outcome] = backend.loader().load([old])

    assert outcome.outcome == "quarantined" and outcome.error.reason == "object_missing"
    assert [o.outcome for o in backend.loader().load([new])] == ["loaded"]
    rows = backend.rows("ecoride_sales")
    assert set(rows.column("_source_etag").to_pylist()) == {new.etag} and rows.num_rows == 3
