"""Spark plumbing for the bulk loaders: the session, the schema bridge, the task functions.

The session gets the Iceberg runtime and AWS bundle as plain jars
(``spark.jars``, fetched once by Maven into the cache; never Ivy at start-up)
and one Iceberg catalog, ``lakehouse``, pointing at Nessie's REST endpoint with
S3FileIO on MinIO.

Spark tasks run OUR parser and coercion (:class:`ingestion.pipeline.FileReader`)
in ``mapPartitions`` over the file list, so a file loaded by Spark has exactly the rows the
event path would give it; Spark only distributes files and writes Iceberg.
The Spark schema is derived from the table's Iceberg schema, never declared.
"""

from __future__ import annotations

import os
import sys
import traceback
from collections.abc import Callable, Iterator
from datetime import datetime

from pyiceberg.schema import Schema
from pyiceberg.types import (
    BooleanType,
    DateType,
    DecimalType,
    DoubleType,
    IcebergType,
    IntegerType,
    ListType,
    LongType,
    NestedField,
    StringType,
    StructType,
    TimestampType,
    TimestamptzType,
)
from pyspark.sql import SparkSession
from pyspark.sql import types as T

from lakehouse.errors import ConfigurationError, LakehouseError, PermanentError
from lakehouse.services.artifacts import SPARK_BUNDLE, maven_jars
from lakehouse.settings import Settings
from ingestion.pipeline import FileReader
from ingestion.source import SourceObject
from ingestion.specs import SPECS_BY_NAME
from ingestion.storage import open_store

CATALOG = "lakehouse"

def spark_type(t: IcebergType) -> T.DataType:
    """Spark type of an Iceberg type (the inverse of what Iceberg's Spark runtime does)."""
    if isinstance(t, StructType):
        return T.StructType([T.StructField(f.name, spark_type(f.field_type), True) for f in t.fields])
    if isinstance(t, ListType):
        return T.ArrayType(spark_type(t.element_type), True)
    if isinstance(t, DecimalType):
        return T.DecimalType(t.precision, t.scale)
    simple: dict[type, T.DataType] = {
        StringType: T.StringType(), IntegerType: T.IntegerType(), LongType: T.LongType(),
        DoubleType: T.DoubleType(), BooleanType: T.BooleanType(), DateType: T.DateType(),
        TimestamptzType: T.TimestampType(), TimestampType: T.TimestampNTZType(),
    }
    return simple[type(t)]


def spark_schema(schema: Schema) -> T.StructType:
    return T.StructType([T.StructField(f.name, spark_type(f.field_type), True) for f in schema.fields])


def session_options(settings: Settings) -> dict[str, str]:
    """Spark configuration: the jars, the ``lakehouse`` Iceberg catalog on Nessie, UTC (contains secrets)."""
    jars = maven_jars(settings.cache_dir, SPARK_BUNDLE)
    prefix = f"spark.sql.catalog.{CATALOG}"
    return {
        "spark.jars": ",".join(str(j) for j in jars),
        "spark.sql.extensions": "org.apache.iceberg.spark.extensions.IcebergSparkSessionExtensions",
        prefix: "org.apache.iceberg.spark.SparkCatalog",
        f"{prefix}.type": "rest",
        f"{prefix}.uri": settings.iceberg_rest_uri,
        f"{prefix}.warehouse": "warehouse",
        f"{prefix}.io-impl": "org.apache.iceberg.aws.s3.S3FileIO",
        f"{prefix}.s3.endpoint": settings.s3_endpoint,
        f"{prefix}.s3.path-style-access": "true",
        f"{prefix}.s3.access-key-id": settings.s3_access_key,
        f"{prefix}.s3.secret-access-key": settings.s3_secret_key,
        f"{prefix}.client.region": settings.s3_region,
        # Our rows carry UTC timestamps; a local session zone would shift them.
        "spark.sql.session.timeZone": "UTC",
        "spark.ui.enabled": "false",
        "spark.sql.shuffle.partitions": "4",
    }


def spark_session(settings: Settings, app_name: str, master: str | None = None) -> SparkSession:
    """A session with the Iceberg runtime and the ``lakehouse`` catalog on Nessie.

    Hazard: ``getOrCreate`` returns an existing session unchanged; the catalog
    settings only apply to the first session of the process.
    """
    if settings.mode == "embedded":
        raise ConfigurationError(
            "the PySpark bulk loaders need the Nessie catalog: set LAKEHOUSE_MODE=native (or docker); "
            "in embedded mode load with `lakehouse replay` instead"
        )
    # Python workers must run this interpreter (the one with our packages). PySpark
    # reads the variable, not the spark.pyspark.python conf, when the driver is a
    # running Python; an explicit setting by the user wins.
    os.environ.setdefault("PYSPARK_PYTHON", sys.executable)
    builder = SparkSession.builder.appName(app_name)
    for key, value in session_options(settings).items():
        builder = builder.config(key, value)
    if master:
        builder = builder.master(master)
    elif not SparkSession.getActiveSession():
        builder = builder.config("spark.master", _default_master())
    return builder.getOrCreate()


def _default_master() -> str:
    from pyspark import SparkConf

    conf = SparkConf()  # picks up spark-submit's --master when launched through it
    return conf.get("spark.master", "local[*]") or "local[*]"


class ChangedSinceListing(LakehouseError):
    """The object was replaced after it was listed; its own event (or the next run) loads it."""


def _source(settings: Settings, key: str, etag: str) -> SourceObject:
    current = open_store(settings).stat(key)
    if current.etag != etag:
        raise ChangedSinceListing(f"{key} changed since it was listed (etag {etag} -> {current.etag})")
    return current


Files = Iterator[tuple[str, str]]  # (key, etag) pairs, as a task receives them


def probe_task(settings: Settings, spec_name: str, schema_json: str, ingested_at: datetime
               ) -> Callable[[Files], Iterator[dict[str, object]]]:
    """Task function: parse each file fully; report rows, new columns or the error."""
    def run(files: Files) -> Iterator[dict[str, object]]:
        for key, etag in files:
            yield _probe(settings, spec_name, schema_json, ingested_at, key, etag)
    return run


def _probe(settings: Settings, spec_name: str, schema_json: str, ingested_at: datetime, key: str,
           etag: str) -> dict[str, object]:
    spec = SPECS_BY_NAME[spec_name]
    local = [Schema.model_validate_json(schema_json)]
    report: dict[str, object] = {"key": key, "etag": etag, "rows": 0, "new_columns": [], "reason": None,
                                 "message": None, "exception": None}
    try:
        reader = FileReader(spec, _source(settings, key, etag), ingested_at)
        for _ in reader.batches(local[0], lambda names: _widen(local, names)):
            pass
        reader.check()
        report.update(rows=reader.rows, new_columns=reader.new_columns)
    except PermanentError as exc:
        cause = exc.__cause__ or exc
        report.update(reason=exc.reason, message=str(exc),
                      exception="".join(traceback.format_exception_only(type(cause), cause)).strip())
    except ChangedSinceListing as exc:
        report.update(reason="changed_since_listing", message=str(exc))
    return report


def _widen(local: list[Schema], names: list[str]) -> Schema:
    """The probe's stand-in for schema evolution: append string columns to a local copy."""
    schema = local[0]
    last = schema.highest_field_id
    extra = [NestedField(last + i + 1, n, StringType(), required=False) for i, n in enumerate(names)]
    local[0] = Schema(*schema.fields, *extra)
    return local[0]


def write_task(settings: Settings, spec_name: str, schema_json: str, ingested_at: datetime
               ) -> Callable[[Files], Iterator[tuple]]:
    """Task function: the typed rows of each file, in the table's (already evolved) schema.

    Rows leave as Python tuples made from our Arrow batches (``to_pylist``):
    PySpark's Arrow path (``mapInArrow``) would need pandas, which the
    project does not install. Spark converts them by the DataFrame schema.

    Hazard: a file that now needs a column the probe did not see (it changed in
    between) fails the task rather than being written with a column missing.
    """
    def run(files: Files) -> Iterator[tuple]:
        spec = SPECS_BY_NAME[spec_name]
        schema = Schema.model_validate_json(schema_json)
        for key, etag in files:
            try:
                source = _source(settings, key, etag)
            except (ChangedSinceListing, PermanentError):
                continue  # replaced or deleted since the probe: not in the ledger, so not lost
            for batch in FileReader(spec, source, ingested_at).batches(schema, _no_new_columns(key)):
                names = batch.schema.names
                for record in batch.to_pylist():
                    yield tuple(record[n] for n in names)
    return run


def _no_new_columns(key: str) -> Callable[[list[str]], Schema]:
    def refuse(names: list[str]) -> Schema:
        raise RuntimeError(f"{key} has columns {names} that its probe did not report; run the loader again")
    return refuse
