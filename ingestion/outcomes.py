"""The outcome log: zero-row and quarantined files, one append-only Iceberg table per namespace.

A file with rows is in the ledger through its rows (:mod:`ingestion.ledger`).
A file without rows — a header-only CSV, ``[]``, or a quarantined file — is
recorded here, in ``<namespace>._file_outcomes``, one row per outcome::

    table_name, source_key, source_etag, outcome ("empty" | "quarantined"), reason, message, recorded_at

Why a table and not table properties (the old design) or marker rows:
properties live in every ``metadata.json`` and are rewritten on each commit
(100k empty files ≈ 17 MB per commit) and show up in Spark and Dremio; marker
rows would put fake rows into bronze that silver and every user query would
have to filter, and a quarantine would create a snapshot on the data table
(the Dagster sensor would start runs for it). An append-only table is read
incrementally by the same manifest index as the ledger, is compacted by
``lakehouse maintain``, and its appends commute (a conflict is retried).

It is not committed atomically with the data table (Iceberg commits one table
at a time). That is safe because nothing here changes data: a crash between the
data commit and this one makes a replay re-read the zero-row or bad file, which
adds nothing and records it again (``state`` reads sets, repeats are harmless).

Precedence: rows in the data table > ``empty`` > ``quarantined``: a
quarantined file that ``lakehouse quarantine retry`` later loads is loaded.
"""

from __future__ import annotations

import logging
from collections import Counter
from collections.abc import Hashable, Iterable, Sequence
from dataclasses import dataclass
from datetime import datetime, timezone

import pyarrow as pa
import pyarrow.parquet as pq
from pyiceberg.catalog import Catalog
from pyiceberg.exceptions import CommitFailedException, NamespaceAlreadyExistsError, NoSuchTableError, \
    TableAlreadyExistsError
from pyiceberg.manifest import DataFile
from pyiceberg.schema import Schema
from pyiceberg.table import Table
from pyiceberg.types import NestedField, StringType, TimestamptzType

from lakehouse.errors import RetryableError
from ingestion.ledger import ManifestIndex, Pair, index_for

log = logging.getLogger(__name__)

OUTCOMES_TABLE = "_file_outcomes"
EMPTY, QUARANTINED = "empty", "quarantined"
COMMIT_ATTEMPTS = 8

SCHEMA = Schema(
    NestedField(1, "table_name", StringType(), required=False, doc="bronze table (null: unroutable key)"),
    NestedField(2, "source_key", StringType(), required=True),
    NestedField(3, "source_etag", StringType(), required=True),
    NestedField(4, "outcome", StringType(), required=True, doc="empty | quarantined"),
    NestedField(5, "reason", StringType(), required=False, doc="lakehouse.reasons vocabulary"),
    NestedField(6, "message", StringType(), required=False),
    NestedField(7, "recorded_at", TimestamptzType(), required=True),
)
COLUMNS = [f.name for f in SCHEMA.fields]


@dataclass(frozen=True)
class Outcome:
    """One recorded outcome."""

    table_name: str | None
    source_key: str
    source_etag: str
    outcome: str
    reason: str | None = None
    message: str | None = None
    recorded_at: datetime | None = None

    @property
    def pair(self) -> Pair:
        return (self.source_key, self.source_etag)


class OutcomeIndex(ManifestIndex):
    """Every outcome row of the log, indexed by (key, etag)."""

    def __init__(self) -> None:
        super().__init__()
        self.by_pair: dict[Pair, Counter[Outcome]] = {}

    def _extract(self, table: Table, data_file: DataFile) -> Iterable[Hashable]:
        with table.io.new_input(data_file.file_path).open() as stream:
            rows = pq.read_table(stream, columns=COLUMNS).to_pylist()
        return [Outcome(**row) for row in rows]

    def _added(self, item: Hashable) -> None:
        super()._added(item)
        assert isinstance(item, Outcome)
        self.by_pair.setdefault(item.pair, Counter())[item] += 1

    def _removed(self, item: Hashable) -> None:
        super()._removed(item)
        assert isinstance(item, Outcome)
        counter = self.by_pair[item.pair]
        counter[item] -= 1
        if counter[item] <= 0:
            del counter[item]
        if not counter:
            del self.by_pair[item.pair]

    def _clear(self) -> None:
        super()._clear()
        self.by_pair.clear()

    def of(self, pair: Pair) -> list[Outcome]:
        return list(self.by_pair.get(pair, ()))


def settled(index: OutcomeIndex, pairs: Iterable[Pair], table_name: str | None) -> dict[Pair, str]:
    """The pairs the log settles for ``table_name``: ``empty`` (same table) wins over ``quarantined`` (any)."""
    found: dict[Pair, str] = {}
    for pair in pairs:
        outcomes = index.of(pair)
        if any(o.outcome == EMPTY and o.table_name == table_name for o in outcomes):
            found[pair] = EMPTY
        elif any(o.outcome == QUARANTINED for o in outcomes):
            found[pair] = QUARANTINED
    return found


def _open(catalog: Catalog, namespace: str, create: bool) -> Table | None:
    identifier = (namespace, OUTCOMES_TABLE)
    try:
        return catalog.load_table(identifier)
    except NoSuchTableError:
        if not create:
            return None
    try:
        catalog.create_namespace(namespace)
    except NamespaceAlreadyExistsError:
        pass
    try:
        with catalog.create_table_transaction(identifier, schema=SCHEMA, properties={
            "commit.manifest-merge.enabled": "true",
            "lakehouse.role": "outcome log of the bronze loaders (see docs/ingestion.md)",
        }) as txn:
            with txn.update_snapshot().fast_append():
                pass  # an empty first snapshot, as for bronze tables (projectnessie/nessie#10062)
    except (TableAlreadyExistsError, CommitFailedException):
        pass
    return catalog.load_table(identifier)


class OutcomeLog:
    """Reads and appends the namespace's outcome log."""

    def __init__(self, catalog: Catalog, namespace: str) -> None:
        self.catalog = catalog
        self.namespace = namespace

    def index(self) -> OutcomeIndex:
        """The log as of now (an empty index when nothing was ever recorded)."""
        table = _open(self.catalog, self.namespace, create=False)
        if table is None:
            return OutcomeIndex()
        index = index_for(table, OutcomeIndex)
        index.refresh(table)
        assert isinstance(index, OutcomeIndex)
        return index

    def record(self, outcomes: Sequence[Outcome]) -> None:
        """Append outcomes in one commit (retried on conflicts: appends commute)."""
        if not outcomes:
            return
        now = datetime.now(timezone.utc)
        rows = pa.Table.from_pylist(
            [{**o.__dict__, "recorded_at": o.recorded_at or now} for o in outcomes],
            schema=pa.schema([
                pa.field("table_name", pa.string()), pa.field("source_key", pa.string(), nullable=False),
                pa.field("source_etag", pa.string(), nullable=False), pa.field("outcome", pa.string(), nullable=False),
                pa.field("reason", pa.string()), pa.field("message", pa.string()),
                pa.field("recorded_at", pa.timestamp("us", tz="UTC"), nullable=False),
            ]),
        )
        for _ in range(COMMIT_ATTEMPTS):
            table = _open(self.catalog, self.namespace, create=True)
            assert table is not None
            try:
                table.append(rows)
                return
            except CommitFailedException as exc:
                log.info("outcome log commit conflicted (%s); appending again", exc)
        raise RetryableError(f"{self.namespace}.{OUTCOMES_TABLE}: {COMMIT_ATTEMPTS} appends in a row conflicted")

