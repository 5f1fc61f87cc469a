"""(d) Fuzz: generated CSV and JSON files, hostile shapes included, through the real BronzeLoader.

Hypothesis builds batches of files — random bytes, random text, CSV with random
headers, quoting, delimiters and line ends, JSON records of random shape,
deep nesting, wide headers, keys that are data, long rows and values, bad
encodings, gzip (whole and truncated) — and loads each batch with one
``BronzeLoader.load`` on an embedded (SQLite) catalog in a temporary folder.
Every file must end ``loaded`` or ``quarantined`` with a content reason of
:mod:`lakehouse.reasons` other than ``unexpected`` (the loader's net for an
unclassified exception); ``load`` itself must not raise. At the end, bronze
holds exactly the rows the loader reported per file, and every quarantined
file has its report.

The datasets' limits and the parsers' block and batch sizes are set small
(``LIMITS``, ``SIZES``), so that kilobyte inputs reach every limit and boundary:
CSV block growth, JSON buffer doubling, batch splits, ``record_too_large``,
``schema_limit``. The sizes are module constants the parsers read at call time;
the limits are per dataset (:class:`ingestion.specs.Limits`), as a user would set them.

Runs in the fault suite (``pytest -m faults``): a few minutes on a shared
2-core machine. ``LAKEHOUSE_FUZZ_BATCHES`` changes the number of batches.
"""

from __future__ import annotations

import csv
import dataclasses
import gzip
import io
import json
import logging
import os
import time
from collections import Counter
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings as hypothesis_settings, strategies as st

from ingestion import specs
from ingestion.catalog import open_catalog
from ingestion.loader import BronzeLoader
from ingestion.parsers import csv as csv_parser
from ingestion.parsers import json as json_parser
from ingestion.schema import SOURCE_KEY, data_column_names
from ingestion.specs import Limits
from ingestion.storage import LocalObjectStore
from lakehouse import reasons
from lakehouse.settings import Settings
from tests.integration.faults.conftest import FIGURES

pytestmark = pytest.mark.faults

FILES_PER_BATCH = 50
BATCHES = int(os.environ.get("LAKEHOUSE_FUZZ_BATCHES", "200"))  # 200 x 50 = 10,000 files
# Batches per bronze namespace: a fresh set of tables now and then keeps pyiceberg's
# per-file metadata copies (they grow with the snapshot log) from slowing the run down.
BATCHES_PER_NAMESPACE = 20
LIMITS = Limits(max_new_columns=12, max_depth=12, max_record_bytes=24 << 10)
SIZES = {
    (csv_parser, "BLOCK_SIZE"): 2 << 10, (csv_parser, "READ_BYTES"): 512,
    (json_parser, "READ_CHARS"): 1 << 10, (json_parser, "BATCH_CHARS"): 8 << 10, (json_parser, "BATCH_RECORDS"): 40,
}
# Reasons a generated file may end with: content the parser or the coercion refused.
# Not unexpected (unclassified), unroutable_key (keys are fixed), object_missing or
# changed_since_listing (nothing deletes or overwrites here).
ALLOWED = frozenset({reasons.EMPTY_FILE, reasons.ENCODING_ERROR, reasons.DECOMPRESSION_ERROR, reasons.PARSE_ERROR,
                     reasons.SCHEMA_LIMIT, reasons.RECORD_TOO_LARGE, reasons.ALL_ROWS_INVALID})

SALES = specs.SPECS_BY_NAME["ecoride_sales"]
REVIEWS = specs.SPECS_BY_NAME["ecoride_product_reviews"]
HEALTH = specs.SPECS_BY_NAME["vehicle_health_logs"]
FOLDERS = {SALES.name: "raw/ecoride/sales/fuzz", REVIEWS.name: "raw/ecoride/reviews/fuzz",
           HEALTH.name: "raw/vehicle_health/fuzz"}

# ---- building blocks --------------------------------------------------------------
# Few extra names, so the columns that loaded files add stay bounded across 10,000 files.
EXTRA_NAMES = ["note", "x", " Sale ID ", "Sale Price (USD)", "", "_source_key", "_rescued_data", "a b", "é", "1"]
ODD_VALUES = ["", "2024-01-02", "2024-02-30", "10.00", "$1,000.50", "-1e309", "NaN", "9" * 40, '"', "a,b", "x\ny",
              "\r", "\x00", "null", "true", "\u2028", "\ufeff", "🚗", "1e5", "0x1F", " 42 "]
GOOD_VALUES = ["S1", "C-9", "2024-01-02", "10.00", "1,234.50", "card", "Austin, TX", "TX", "0", "-5", "FM-AURORA"]
cell = st.one_of(st.sampled_from(GOOD_VALUES), st.sampled_from(GOOD_VALUES), st.sampled_from(ODD_VALUES),
                 st.text(max_size=8))
json_scalar = st.one_of(
    st.none(), st.booleans(), st.integers(), st.floats(), st.text(max_size=10), st.sampled_from(ODD_VALUES),
    st.sampled_from(GOOD_VALUES), st.integers(0, 5),
)


def json_keys(spec: specs.DatasetSpec) -> st.SearchStrategy[str]:
    return st.one_of(st.sampled_from(data_column_names(spec.schema) + EXTRA_NAMES), st.text("aB_", max_size=2))


def json_values(spec: specs.DatasetSpec) -> st.SearchStrategy[object]:
    return st.recursive(json_scalar, lambda inner: st.lists(inner, max_size=3)
                        | st.dictionaries(json_keys(spec), inner, max_size=3), max_leaves=8)


def encoded(text: str, encoding: str) -> bytes:
    return text.encode(encoding, errors="replace") if encoding != "utf-8-sig" else text.encode("utf-8-sig")


@st.composite
def packed(draw: st.DrawFn, body: bytes) -> bytes:
    """The bytes as they land: plain, gzip, truncated gzip, cut short, or with junk after them."""
    how = draw(st.sampled_from(["plain"] * 8 + ["gzip", "gzip", "truncated_gzip", "cut", "junk"]))
    if how == "gzip":
        return gzip.compress(body)
    if how == "truncated_gzip":
        whole = gzip.compress(body)
        return whole[: draw(st.integers(0, max(0, len(whole) - 1)))]
    if how == "cut":
        return body[: draw(st.integers(min(1, len(body)), len(body)))]
    if how == "junk":
        return body + draw(st.binary(min_size=1, max_size=40))
    return body


# ---- CSV --------------------------------------------------------------------------
@st.composite
def csv_text(draw: st.DrawFn) -> str:
    """A CSV of random header, rows (wrong field counts too), quoting, delimiter and line end."""
    names = data_column_names(SALES.schema)
    header = draw(st.lists(st.sampled_from(names), min_size=1, max_size=10))
    header += draw(st.lists(st.sampled_from(names + EXTRA_NAMES), max_size=4))
    header = draw(st.permutations(header))
    delimiter = draw(st.sampled_from([","] * 7 + [";", "\t", "|"]))
    newline = draw(st.sampled_from(["\n", "\r\n", "\r"]))
    quoting = draw(st.sampled_from([csv.QUOTE_MINIMAL, csv.QUOTE_MINIMAL, csv.QUOTE_ALL, csv.QUOTE_NONE]))
    width = len(header)
    row = st.one_of(*[st.lists(cell, min_size=width, max_size=width)] * 4,  # the wrong field count now and then
                    st.lists(cell, min_size=max(0, width - 2), max_size=width + 2))
    rows = draw(st.lists(row, max_size=8))
    out = io.StringIO()
    writer = csv.writer(out, delimiter=delimiter, lineterminator=newline, quoting=quoting,
                        escapechar="\\" if quoting == csv.QUOTE_NONE else None)
    for row in [header, *rows]:
        writer.writerow(row if row != [""] or quoting != csv.QUOTE_NONE else [])  # csv cannot write that one
    text = out.getvalue()
    if draw(st.booleans()):
        text = text.rstrip("\r\n")  # no line end after the last row
    if draw(st.integers(0, 9)) == 0:
        text = draw(st.sampled_from(["", "\n\n", "  \r\n"])) + text  # blank lines before the header
    return text


@st.composite
def hostile_csv(draw: st.DrawFn) -> str:
    """Shapes a parser should refuse or survive: wide, long, unterminated, NUL, header only."""
    kind = draw(st.sampled_from(["wide_header", "wide_row", "long_row", "long_header", "long_quoted",
                                 "unterminated_quote", "nul", "header_only", "many_rows"]))
    n = draw(st.integers(1, 60_000))
    if kind == "wide_header":
        lead = draw(st.sampled_from(["sale_id,", ""]))
        return lead + ",".join(f"c{i}" for i in range(min(n, 5_000))) + "\nS1,2\n"
    if kind == "wide_row":
        return "sale_id,dealership\nS1," + ",".join("v" for _ in range(min(n, 5_000))) + "\nS2,x\n"
    if kind == "long_row":
        return "sale_id,dealership\nS1," + "x" * n + "\nS2,y\n"
    if kind == "long_header":
        return "sale_id" + "h" * n + "\nS1\n"
    if kind == "long_quoted":
        return 'sale_id,dealership\nS1,"' + "a,\n\"\"" * (n // 4) + '"\n'
    if kind == "unterminated_quote":
        return 'sale_id,dealership\nS1,"never closed\n' + "more\n" * (n % 50)
    if kind == "nul":
        return draw(st.sampled_from(["sale_id\x00,x\n1,2\n", "sale_id,x\n1\x00,2\n", "\x00\x00\x00"]))
    if kind == "header_only":
        return draw(st.sampled_from(["sale_id,dealership", "sale_id,dealership\r\n", "sale_id\n\n\n"]))
    return "sale_id,sale_price_usd\n" + "".join(f"S{i},{i}.5\n" for i in range(min(n, 3_000)))


csv_files = st.one_of(
    st.binary(min_size=1, max_size=600),
    st.builds(encoded, st.text(min_size=1, max_size=200), st.sampled_from(["utf-8", "latin-1", "utf-16"])),
    *[st.builds(encoded, csv_text(), st.sampled_from(["utf-8"] * 8 + ["utf-8-sig", "latin-1", "utf-16", "cp1252"]))] * 4,
    *[st.builds(encoded, hostile_csv(), st.just("utf-8"))] * 2,
).flatmap(packed)


# ---- JSON -------------------------------------------------------------------------
@st.composite
def json_text(draw: st.DrawFn, spec: specs.DatasetSpec) -> str:
    """Records of random shape (objects mostly), as an array, JSON Lines, concatenated or pretty."""
    declared = st.dictionaries(st.sampled_from(data_column_names(spec.schema)), json_scalar, min_size=1, max_size=6)
    record = st.one_of(declared, declared, declared, st.dictionaries(json_keys(spec), json_values(spec), max_size=6),
                       json_values(spec))
    records = draw(st.lists(record, max_size=8))
    form = draw(st.sampled_from(["array", "lines", "lines", "concatenated", "pretty", "one"]))
    if form == "array":
        return json.dumps(records)
    if form == "pretty":
        return json.dumps(records, indent=draw(st.integers(0, 4)))
    if form == "one":
        return json.dumps(records[0] if records else None)
    joiner = "\n" if form == "lines" else draw(st.sampled_from(["", " ", "\r\n"]))
    return joiner.join(json.dumps(r, ensure_ascii=draw(st.booleans())) for r in records)


@st.composite
def hostile_json(draw: st.DrawFn) -> str:
    """Deep nesting, keys that are data, long values, huge numbers, lone surrogates, many records."""
    kind = draw(st.sampled_from(["deep_array", "deep_object", "deep_open", "keys_are_data", "long_value",
                                 "long_key", "huge_number", "surrogate", "many_records", "syntax"]))
    n = draw(st.integers(1, 60_000))
    if kind == "deep_array":
        return "[" * n + "]" * n
    if kind == "deep_object":
        return '{"review_id": "R1", "tags": ' + '{"a":' * n + "1" + "}" * n + "}"
    if kind == "deep_open":
        return '[{"review_id": ' + "[" * n
    if kind == "keys_are_data":
        return json.dumps({"review_id": "R1"} | {f"k{i}": i for i in range(min(n, 3_000))})
    if kind == "long_value":
        return json.dumps([{"review_id": "R1", "review_text": "é" * n}, {"review_id": "R2"}])
    if kind == "long_key":
        return json.dumps({"review_id": "R1", "k" * n: 1})
    if kind == "huge_number":
        return '{"review_id": "R1", "rating": ' + "9" * min(n, 5_000) + ', "helpful_votes": 1e400}'
    if kind == "surrogate":
        return draw(st.sampled_from(['{"review_id": "\\ud800"}', '{"\\udfff": 1, "review_id": "R"}',
                                     '{"review_id": "R", "tags": ["\\ud83d"]}']))
    if kind == "many_records":
        return "\n".join(json.dumps({"review_id": f"R{i}", "rating": i % 7}) for i in range(min(n, 3_000)))
    return draw(st.text(alphabet='[]{}",: 0123456789.eE-+truefalsnNI\\u\n', max_size=60))


def json_files(spec: specs.DatasetSpec) -> st.SearchStrategy[bytes]:
    return st.one_of(
        st.binary(min_size=1, max_size=600),
        *[st.builds(encoded, json_text(spec), st.sampled_from(["utf-8"] * 8 + ["utf-8-sig", "latin-1", "utf-16"]))] * 4,
        *[st.builds(encoded, hostile_json(), st.just("utf-8"))] * 2,
    ).flatmap(packed)


SUFFIXES = {SALES.name: [".csv", ".csv.gz"], REVIEWS.name: [".json", ".jsonl", ".json.gz"],
            HEALTH.name: [".jsonl", ".json.gz"]}
generated_file = st.one_of(
    st.tuples(st.just(SALES.name), csv_files),
    st.tuples(st.just(REVIEWS.name), json_files(REVIEWS)),
    st.tuples(st.just(HEALTH.name), json_files(HEALTH)),
).flatmap(lambda pair: st.tuples(st.just(pair[0]), st.sampled_from(SUFFIXES[pair[0]]), st.just(pair[1])))


# ---- the test ---------------------------------------------------------------------
@pytest.fixture
def fuzz_settings(base_settings: Settings, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Settings:
    monkeypatch.setattr(specs, "SPECS", tuple(dataclasses.replace(s, limits=LIMITS) for s in specs.SPECS))
    for (module, name), value in SIZES.items():
        monkeypatch.setattr(module, name, value)
    settings = dataclasses.replace(base_settings, mode="embedded", state_dir=tmp_path / "state")
    settings.landing_dir.mkdir(parents=True)
    return settings


def test_generated_files_end_loaded_or_quarantined_with_a_reason(
        fuzz_settings: Settings, caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.ERROR)  # 10,000 quarantine warnings would only slow the run down
    store = LocalObjectStore(fuzz_settings.landing_dir)
    namespaces: list[BronzeLoader] = []
    outcomes: dict[str, tuple[str, int, str | None]] = {}  # key -> (outcome, rows, reason)
    in_namespace: dict[str, str] = {}  # key -> the bronze namespace it went to
    failures: list[str] = []
    batches = 0
    loading = 0.0
    started = time.monotonic()

    def loader() -> BronzeLoader:
        if batches % BATCHES_PER_NAMESPACE == 0 or not namespaces:
            namespace = f"fuzz_{len(namespaces)}"
            namespaces.append(BronzeLoader(dataclasses.replace(fuzz_settings, bronze_namespace=namespace), store=store))
        return namespaces[-1]

    @hypothesis_settings(max_examples=BATCHES, deadline=None, database=None, print_blob=True,
                         suppress_health_check=list(HealthCheck))
    @given(st.lists(generated_file, min_size=FILES_PER_BATCH, max_size=FILES_PER_BATCH))
    def one_batch(files: list[tuple[str, str, bytes]]) -> None:
        nonlocal batches, loading
        bronze = loader()
        batches += 1
        objects = []
        for dataset, suffix, data in files:
            key = f"{FOLDERS[dataset]}/f{len(outcomes) + len(objects):05d}{suffix}"
            store.put_bytes(key, data)
            objects.append(store.stat(key))
        began = time.monotonic()
        results = bronze.load(objects)  # must not raise: every file is classified
        loading += time.monotonic() - began
        for obj, result in zip(objects, results, strict=True):
            reason = result.error.reason if result.error is not None else None
            outcomes[obj.key] = (result.outcome, result.rows, reason)
            in_namespace[obj.key] = bronze.settings.bronze_namespace
            if result.outcome == "loaded" and result.error is None:
                continue
            if result.outcome != "quarantined" or reason not in ALLOWED:
                cause = result.error.__cause__ if result.error is not None else None
                failures.append(f"{obj.key}: {result.outcome} {reason}: {result.error} (cause {cause!r})")
        assert not failures, "\n".join(failures[:20])

    one_batch()
    seconds = time.monotonic() - started

    # Bronze holds exactly the rows reported per file; every quarantined file has its report.
    catalog = open_catalog(fuzz_settings)
    in_bronze: Counter[tuple[str, str]] = Counter()
    for bronze in namespaces:
        namespace = bronze.settings.bronze_namespace
        for spec in (SALES, REVIEWS, HEALTH):
            table = catalog.load_table(spec.identifier(namespace))
            keys = table.scan(selected_fields=(SOURCE_KEY,)).to_arrow()[SOURCE_KEY].to_pylist()
            in_bronze.update((namespace, k) for k in keys)
    wrong = [f"{key}: {outcome} {rows} rows, {in_bronze[in_namespace[key], key]} in bronze"
             for key, (outcome, rows, _) in outcomes.items()
             if in_bronze[in_namespace[key], key] != (rows if outcome == "loaded" else 0)]
    assert not wrong, "\n".join(wrong[:20])
    quarantine = fuzz_settings.landing_dir / fuzz_settings.quarantine_prefix
    reported = {str(p.relative_to(quarantine))[: -len(".error.json")] for p in quarantine.rglob("*.error.json")}
    assert reported == {k for k, (outcome, _, _) in outcomes.items() if outcome == "quarantined"}

    by_end = Counter(reason or outcome for outcome, _, reason in outcomes.values())
    figures = {"files": len(outcomes), "batches": batches, "seconds": round(seconds, 1),
               "loading_seconds": round(loading, 1)} | dict(sorted(by_end.items()))
    FIGURES.append({"scenario": "fuzz (hypothesis, BronzeLoader)"} | figures)
    print(f"\nfuzz: {figures}")
    assert len(outcomes) >= BATCHES * FILES_PER_BATCH  # hypothesis ran every batch: 10,000 files by default
