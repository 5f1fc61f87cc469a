"""Bulk (backfill) loading with Spark: same tables, schemas, lineage and ledger as the event path.

Per table:

1. list the prefix, route every key (unroutable ones are quarantined, as the
   event path does) and drop the (key, etag) pairs the ledger already settles:
   rows in the table, or an ``empty`` or ``quarantined`` outcome in the outcome
   log — whichever loader recorded it;
2. **probe**: a Spark job parses every pending file with our parser and
   reports its row count, new columns, or why it cannot be loaded. Files that
   cannot be loaded are quarantined by the driver;
3. one pyiceberg commit adds the new columns; one outcome-log commit records
   the zero-row and the quarantined files, exactly as the event path records
   them (both harmless if step 4 then fails: a nullable column, and files
   that add no rows either way), so the listener's ledger, reconcile and
   ``lakehouse quarantine list`` see them and no later run tries them again;
4. **write**: a second Spark job turns the files into rows (our coercion
   again) and appends them with Spark's Iceberg writer in one commit.

Every file is therefore read twice (probe, write): the price of knowing new
columns and bad files before Spark fixes the DataFrame schema.

Hazard (concurrency): the tables refuse blind commit retries, so an append
that races another writer fails and is retried here after a new ledger
check. But the window between that check and the moment Spark's writer loads
the table is not covered; if another writer commits the same file inside it,
it is loaded twice, and :func:`_report_races` logs exactly which files. Run
backfills for prefixes the listener is not loading at the same moment.
"""

from __future__ import annotations

import logging
import time
from collections import defaultdict
from dataclasses import asdict, dataclass, field
from datetime import datetime, timezone

import pyarrow as pa
import pyarrow.compute as pc
from pyiceberg.catalog import Catalog
from pyiceberg.expressions import In
from pyiceberg.table import Table
from pyspark.sql import SparkSession

from lakehouse import reasons
from lakehouse.errors import PermanentError, RetryableError
from lakehouse.settings import Settings
from ingestion import ledger
from ingestion.outcomes import EMPTY, QUARANTINED, Outcome, OutcomeIndex, OutcomeLog, settled
from ingestion.bronze.spark import CATALOG, probe_task, spark_schema, write_task
from ingestion.catalog import open_catalog
from ingestion.quarantine import quarantine
from ingestion.schema import INGESTED_AT, SOURCE_ETAG, SOURCE_KEY
from ingestion.source import SourceObject
from ingestion.specs import DatasetSpec, route
from ingestion.storage import ObjectStore, open_store
from ingestion.writer import open_table

log = logging.getLogger(__name__)

APPEND_ATTEMPTS = 3


@dataclass
class TableReport:
    """What a bulk run did to one table."""

    table: str
    listed: int = 0
    skipped: int = 0  # already settled: loaded, recorded empty or quarantined before
    loaded: int = 0
    quarantined: int = 0
    deferred: int = 0  # changed while we ran: loaded by their own event or the next run
    rows: int = 0
    seconds: float = 0.0
    new_columns: list[str] = field(default_factory=list)

    def as_dict(self) -> dict[str, object]:
        return asdict(self)


class RemoteFileError(PermanentError):
    """A file that failed inside a Spark task; carries the task's exception text."""

    def __init__(self, message: str, *, reason: str, exception: str) -> None:
        super().__init__(message, reason=reason)
        self.exception_text = exception


def bulk_load(spark: SparkSession, settings: Settings, prefixes: tuple[str, ...], *,
              catalog: Catalog | None = None, store: ObjectStore | None = None) -> list[TableReport]:
    """Load every object under ``prefixes`` that the ledger lacks; one report per table."""
    catalog = catalog or open_catalog(settings)
    store = store or open_store(settings)
    outcome_log = OutcomeLog(catalog, settings.bronze_namespace)
    known = outcome_log.index()
    groups: dict[str, list[SourceObject]] = defaultdict(list)
    specs: dict[str, DatasetSpec] = {}
    unroutable = TableReport(table="(unroutable)")
    records: list[Outcome] = []
    for prefix in prefixes:
        for obj in store.list(prefix):
            spec = route(obj.key)
            if spec is None:
                unroutable.listed += 1
                if settled(known, [(obj.key, obj.etag)], None):
                    unroutable.skipped += 1  # quarantined before (by either loader)
                    continue
                error = PermanentError(f"no dataset spec matches {obj.key!r}", reason=reasons.UNROUTABLE_KEY)
                quarantine(store, obj, error, None, settings)
                records.append(_quarantined(None, obj, error))
                unroutable.quarantined += 1
                continue
            specs[spec.name] = spec
            groups[spec.name].append(obj)
    reports = [_load_table(spark, settings, catalog, store, specs[name], objs, known)
               for name, objs in groups.items()]
    outcome_log.record(records)
    return reports + ([unroutable] if unroutable.listed else [])


def _pending(table: Table, objects: list[SourceObject]) -> list[SourceObject]:
    done = ledger.loaded(table, ((o.key, o.etag) for o in objects))
    return [o for o in objects if (o.key, o.etag) not in done]


def _quarantined(table_name: str | None, obj: SourceObject, error: PermanentError) -> Outcome:
    """The outcome-log record of a quarantine, as :class:`ingestion.loader.BronzeLoader` writes it."""
    return Outcome(table_name, obj.key, obj.etag, QUARANTINED, error.reason, str(error)[:2000])


def _load_table(spark: SparkSession, settings: Settings, catalog: Catalog, store: ObjectStore,
                spec: DatasetSpec, objects: list[SourceObject], known: OutcomeIndex) -> TableReport:
    started = time.monotonic()
    namespace = settings.bronze_namespace
    report = TableReport(table=f"{namespace}.{spec.table}", listed=len(objects))
    table = open_table(catalog, spec, namespace)
    recorded = settled(known, ((o.key, o.etag) for o in objects), spec.table)  # empty or quarantined
    todo = [o for o in _pending(table, objects) if (o.key, o.etag) not in recorded]
    report.skipped = len(objects) - len(todo)
    if todo:
        ingested_at = datetime.now(timezone.utc)
        probes = _run_probe(spark, settings, spec, table, todo, ingested_at)
        records: list[Outcome] = []
        good = _settle_failures(store, settings, spec, todo, probes, report, records)
        table = _prepare(catalog, spec, namespace, good, probes, report, records)
        with_rows = [o for o in good if probes[o.key]["rows"]]
        _append_with_retries(spark, settings, catalog, spec, with_rows, ingested_at, report)
        report.loaded = len(good)
    report.seconds = round(time.monotonic() - started, 2)
    log.info("bulk table=%s listed=%d skipped=%d loaded=%d quarantined=%d rows=%d s=%.1f", report.table,
             report.listed, report.skipped, report.loaded, report.quarantined, report.rows, report.seconds)
    return report


def _partitions(spark: SparkSession, files: int) -> int:
    return max(1, min(files, spark.sparkContext.defaultParallelism * 2))


def _run_probe(spark: SparkSession, settings: Settings, spec: DatasetSpec, table: Table,
               todo: list[SourceObject], ingested_at: datetime) -> dict[str, dict]:
    files = spark.sparkContext.parallelize([(o.key, o.etag) for o in todo], _partitions(spark, len(todo)))
    task = probe_task(settings, spec.name, table.schema().model_dump_json(), ingested_at)
    return {report["key"]: report for report in files.mapPartitions(task).collect()}


def _settle_failures(store: ObjectStore, settings: Settings, spec: DatasetSpec, todo: list[SourceObject],
                     probes: dict[str, dict], report: TableReport, records: list[Outcome]) -> list[SourceObject]:
    good = []
    for obj in todo:
        probe = probes[obj.key]
        if probe["reason"] == "changed_since_listing":
            report.deferred += 1
        elif probe["reason"]:
            error = RemoteFileError(probe["message"], reason=probe["reason"], exception=probe["exception"] or "")
            quarantine(store, obj, error, spec.name, settings)
            records.append(_quarantined(spec.table, obj, error))
            report.quarantined += 1
        else:
            good.append(obj)
    return good


def _prepare(catalog: Catalog, spec: DatasetSpec, namespace: str, good: list[SourceObject],
             probes: dict[str, dict], report: TableReport, records: list[Outcome]) -> Table:
    """One pyiceberg commit of new columns (in file order); one outcome-log commit of ``records``
    (the quarantines) and the zero-row files."""
    for obj in sorted(good, key=lambda o: o.key):
        for column in probes[obj.key]["new_columns"] or []:
            if column not in report.new_columns:
                report.new_columns.append(column)
    outcomes = records + [Outcome(spec.table, o.key, o.etag, EMPTY) for o in good if not probes[o.key]["rows"]]
    table = open_table(catalog, spec, namespace)
    missing = [c for c in report.new_columns if c not in table.schema().column_names]
    if missing:
        from pyiceberg.types import StringType

        txn = table.transaction()
        if missing:
            with txn.update_schema() as update:
                for column in missing:
                    update.add_column(column, StringType(), doc=f"added by schema evolution ({spec.name})")
        table = txn.commit_transaction()
    OutcomeLog(catalog, namespace).record(outcomes)  # after the columns: a crash in between re-probes them
    return table


def _append_with_retries(spark: SparkSession, settings: Settings, catalog: Catalog, spec: DatasetSpec,
                         files: list[SourceObject], ingested_at: datetime, report: TableReport) -> None:
    identifier = spec.identifier(settings.bronze_namespace)
    for attempt in range(1, APPEND_ATTEMPTS + 1):
        table = catalog.load_table(identifier)
        files = _pending(table, files)  # another writer may have loaded some meanwhile
        if not files:
            return
        checked = table.current_snapshot()
        try:
            _append(spark, settings, spec, table, files, ingested_at)
        except Exception as exc:  # py4j wraps Java exceptions; only a commit conflict is retried
            if "CommitFailedException" not in str(exc):
                raise
            log.info("bulk append to %s conflicted (attempt %d); re-checking the ledger", identifier, attempt)
            continue
        table = catalog.load_table(identifier)
        report.rows += _rows_of(table, files)
        _report_races(table, files, checked.snapshot_id if checked else None)
        return
    raise RetryableError(f"{'.'.join(identifier)}: {APPEND_ATTEMPTS} appends in a row conflicted with other writers")


def _append(spark: SparkSession, settings: Settings, spec: DatasetSpec, table: Table, files: list[SourceObject],
            ingested_at: datetime) -> None:
    schema = table.schema()
    pairs = spark.sparkContext.parallelize([(o.key, o.etag) for o in files], _partitions(spark, len(files)))
    task = write_task(settings, spec.name, schema.model_dump_json(), ingested_at)
    rows = spark.createDataFrame(pairs.mapPartitions(task), spark_schema(schema), verifySchema=False)
    (rows.writeTo(f"{CATALOG}.{settings.bronze_namespace}.{spec.table}")
         .option("snapshot-property.lakehouse.writer", "spark")
         .option("snapshot-property.lakehouse.files", str(len(files)))
         .append())


def _lineage_rows(table: Table, files: list[SourceObject]) -> pa.Table:
    keys = {o.key for o in files}
    return table.scan(row_filter=In(SOURCE_KEY, keys), selected_fields=(SOURCE_KEY, SOURCE_ETAG, INGESTED_AT)).to_arrow()


def _rows_of(table: Table, files: list[SourceObject]) -> int:
    pairs = {(o.key, o.etag) for o in files}
    lineage = _lineage_rows(table, files)
    keys, etags = lineage.column(SOURCE_KEY).to_pylist(), lineage.column(SOURCE_ETAG).to_pylist()
    return sum(1 for pair in zip(keys, etags) if pair in pairs)


def _report_races(table: Table, files: list[SourceObject], checked_snapshot: int | None) -> None:
    """Log files loaded twice because another writer committed them inside our window."""
    current = table.current_snapshot()
    if current is None or current.parent_snapshot_id == checked_snapshot:
        return  # nobody committed between our ledger check and our append
    loads = _lineage_rows(table, files).group_by([SOURCE_KEY, SOURCE_ETAG]).aggregate([(INGESTED_AT, "count_distinct")])
    doubled = loads.filter(pc.greater(loads.column(f"{INGESTED_AT}_count_distinct"), 1))
    if doubled.num_rows:
        log.error("bulk load raced another writer; loaded twice: %s", doubled.column(SOURCE_KEY).to_pylist())
