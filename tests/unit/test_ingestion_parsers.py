"""Parsers: CSV dialect corners, JSON shapes, PDF pages, and the error contract."""

from __future__ import annotations

import dataclasses
import gzip
import io
import json
import os
import subprocess
import sys
from datetime import datetime, timezone
from pathlib import Path

import pytest
from fpdf import FPDF

from lakehouse import reasons
from lakehouse.errors import PermanentError, RetryableError
from ingestion.parsers import Records, TextColumns, normalize_name, parse
from ingestion.parsers import csv as csv_parser
from ingestion.parsers import json as json_parser
from ingestion.pipeline import FileReader
from ingestion.source import SourceObject
from ingestion.schema import STRING, columns
from ingestion.specs import SPECS_BY_NAME, DatasetSpec, Limits

# Dialect tests use short column names; a header must name a declared column.
SALES = dataclasses.replace(SPECS_BY_NAME["ecoride_sales"], partition_by=(),
                            schema=columns(a=STRING, b=STRING, sale_id=STRING, dealership=STRING,
                                           sale_price_usd=STRING))
REVIEWS = SPECS_BY_NAME["ecoride_product_reviews"]
DOCS = SPECS_BY_NAME["product_documents"]
NOW = datetime(2026, 1, 1, tzinfo=timezone.utc)


def source(data: bytes, key: str = "raw/x") -> SourceObject:
    return SourceObject(key=key, etag="e", size=len(data), open=lambda: io.BytesIO(data))


def csv_rows(data: bytes) -> tuple[list[dict], list[str]]:
    rows, malformed = [], []
    for batch in parse(source(data, "raw/ecoride/sales/s.csv"), SALES):
        assert isinstance(batch, TextColumns)
        rows += batch.table.to_pylist()
        malformed += batch.malformed
    return rows, malformed


def test_csv_handles_quotes_embedded_newlines_bom_and_crlf() -> None:
    data = '\ufeffsale_id,dealership\r\nS1,"Austin, ""North""\r\nbranch"\r\nS2,Plain\r\n'.encode()
    rows, malformed = csv_rows(data)
    assert rows == [{"sale_id": "S1", "dealership": 'Austin, "North"\r\nbranch'}, {"sale_id": "S2", "dealership": "Plain"}]
    assert malformed == []


def test_csv_reads_gzip_by_content_and_normalizes_header_names() -> None:
    rows, _ = csv_rows(gzip.compress(b'" Sale ID ",Sale Price (USD)\nS1,10.00\n'))
    assert rows == [{"sale_id": "S1", "sale_price_usd": "10.00"}]


def test_csv_empty_fields_are_null_and_values_stay_text() -> None:
    rows, _ = csv_rows(b"sale_id,sale_price_usd\nS1,\n,00042\n")
    assert rows == [{"sale_id": "S1", "sale_price_usd": None}, {"sale_id": None, "sale_price_usd": "00042"}]


def test_csv_rows_with_the_wrong_field_count_are_kept_aside_not_fatal() -> None:
    rows, malformed = csv_rows(b"a,b\n1,2\n1,2,3\n4,5\n")
    assert rows == [{"a": "1", "b": "2"}, {"a": "4", "b": "5"}]
    assert malformed == ["1,2,3"]


def test_csv_header_only_yields_its_columns() -> None:
    batches = list(parse(source(b"a,b\r\n", "raw/s.csv"), SALES))
    assert [(b.table.column_names, b.table.num_rows) for b in batches] == [(["a", "b"], 0)]


def test_blank_lines_before_the_csv_header_are_skipped() -> None:
    rows, _ = csv_rows(b"\r\n  \n\na,b\n1,2\n")
    assert rows == [{"a": "1", "b": "2"}]


def test_csv_header_with_cr_line_ends_only() -> None:
    rows, _ = csv_rows(b"a,b\r1,2\r")
    assert rows == [{"a": "1", "b": "2"}]


def test_csv_streams_in_blocks(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(csv_parser, "BLOCK_SIZE", 1 << 10)
    data = b"a,b\n" + b"".join(b"%d,x\n" % i for i in range(2000))
    batches = list(parse(source(data), SALES))
    assert len(batches) > 5
    assert sum(b.table.num_rows for b in batches) == 2000


@pytest.mark.parametrize("data", ["a,b\né,1\n".encode("latin-1"), "é,b\n1,1\n".encode("latin-1")])
def test_csv_that_is_not_utf8_is_an_encoding_error(data: bytes) -> None:
    with pytest.raises(PermanentError) as info:
        csv_rows(data)
    assert info.value.reason == reasons.ENCODING_ERROR


def json_values(data: bytes, key: str = "raw/ecoride/reviews/r.json") -> list:
    values = []
    for batch in parse(source(data, key), REVIEWS):
        assert isinstance(batch, Records)
        values += batch.values
    return values


@pytest.mark.parametrize("data", [
    b'[{"a": 1}, {"a": 2}]',
    b'  [\n{"a": 1},\n{"a": 2}\n]\n',
    b'{"a": 1}\n{"a": 2}\n',
    b'{"a": 1}{"a": 2}',
    gzip.compress(b'{"a": 1}\r\n{"a": 2}'),
    '\ufeff[{"a": 1}, {"a": 2}]'.encode(),
])
def test_json_arrays_lines_gzip_and_bom_give_the_same_records(data: bytes) -> None:
    assert json_values(data) == [{"a": 1}, {"a": 2}]


def test_an_empty_json_array_has_no_records() -> None:
    assert json_values(b" [ ]\n") == []


@pytest.mark.parametrize("data", [
    b'[{"a": 1}, {"a": 2',
    b'[{"a": 1},',
    b'[{"a": 1}',
    b'{"a": 1}\n{"a": ',
    b'[1 2]',
    b'[1] [2]',
])
def test_truncated_or_broken_json_is_a_parse_error_with_a_position(data: bytes) -> None:
    with pytest.raises(PermanentError) as info:
        json_values(data)
    assert info.value.reason == "parse_error"


def test_json_values_spanning_read_chunks_are_whole(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(json_parser, "READ_CHARS", 7)
    records = [{"review_id": f"R{i}", "rating": 12345 + i, "text": "x" * (i % 13)} for i in range(300)]
    assert json_values(json.dumps(records).encode()) == records
    assert json_values("\n".join(json.dumps(r) for r in records).encode()) == records


def _pdf(pages: list[str]) -> bytes:
    pdf = FPDF()
    pdf.set_font("helvetica", size=12)
    for text in pages:
        pdf.add_page()
        pdf.cell(text=text)
    return bytes(pdf.output())


def test_pdf_gives_one_record_per_page_with_document_fields() -> None:
    data = _pdf(["Aurora specification", "Battery 82 kWh"])
    (batch,) = parse(source(data, "raw/docs/specs/FM-AURORA.pdf"), DOCS)
    assert isinstance(batch, Records)
    assert [(r["doc_type"], r["doc_name"], r["model_id"], r["page_number"]) for r in batch.values] == [
        ("specs", "FM-AURORA", "FM-AURORA", 1), ("specs", "FM-AURORA", "FM-AURORA", 2)]
    assert "Battery 82 kWh" in batch.values[1]["text"]


def test_pdf_without_a_model_in_its_name_has_a_null_model_id() -> None:
    (batch,) = parse(source(_pdf(["Tips"]), "raw/docs/maintenance/battery_care.pdf"), DOCS)
    assert batch.values[0]["model_id"] is None and batch.values[0]["doc_type"] == "maintenance"


@pytest.mark.parametrize("data", [b"%PDF-1.7 not really", b"hello", b"%PDF-1.4\n" + bytes(range(256)) * 8])
def test_a_broken_pdf_is_a_parse_error(data: bytes) -> None:
    with pytest.raises(PermanentError) as info:
        list(parse(source(data, "raw/docs/specs/x.pdf"), DOCS))
    assert info.value.reason == "parse_error"


class _Flaky(io.RawIOBase):
    """A stream that dies mid-read like a dropped S3 connection."""

    def __init__(self, head: bytes) -> None:
        self.head = head

    def readable(self) -> bool:
        return True

    def readinto(self, buffer) -> int:  # noqa: ANN001
        if not self.head:
            raise ConnectionResetError("connection reset by peer")
        n = min(len(buffer), len(self.head))
        buffer[:n], self.head = self.head[:n], self.head[n:]
        return n


@pytest.mark.parametrize(("spec", "head"), [(SALES, b"a,b\n1,2\n"), (REVIEWS, b'[{"a": 1},')])
def test_a_read_failure_is_retryable_not_a_parse_error(spec, head: bytes) -> None:  # noqa: ANN001
    obj = SourceObject(key="raw/x", etag="e", size=0, open=lambda: _Flaky(head))
    with pytest.raises(RetryableError):
        list(parse(obj, spec))


def test_a_vanished_local_file_is_object_missing(tmp_path) -> None:  # noqa: ANN001
    obj = SourceObject(key="raw/x", etag="e", size=0, open=lambda: (tmp_path / "gone").open("rb"))
    with pytest.raises(PermanentError) as info:
        list(parse(obj, SALES))
    assert info.value.reason == "object_missing"


@pytest.mark.parametrize(("raw", "name"), [(" Sale Price (USD) ", "sale_price_usd"), ("modelID", "modelid"), ("", "column_1")])
def test_header_and_key_names_are_normalized_to_snake_case(raw: str, name: str) -> None:
    assert normalize_name(raw) == name


# ---- issue 9: hostile input, limits, bounded work and memory -----------------------
# Small limits so that kilobytes reach them (the defaults are 64 columns, depth 32, 16 MB).
TIGHT = Limits(max_new_columns=4, max_depth=8, max_record_bytes=4 << 10)


def reason_of(data: bytes, spec: DatasetSpec, key: str) -> str:
    with pytest.raises(PermanentError) as info:
        for _ in parse(source(data, key), spec):
            pass
    return info.value.reason


SALES_CSV = "raw/ecoride/sales/s.csv"
REVIEWS_JSON = "raw/ecoride/reviews/r.json"
WHOLE_GZIP = gzip.compress(b"sale_id,dealership\n" + b"".join(b"S%d,Austin %d\n" % (i, i * 7919) for i in range(5_000)))
TRUNCATED_GZIP = WHOLE_GZIP[: len(WHOLE_GZIP) // 2]


@pytest.mark.parametrize(("data", "key", "limits", "reason"), [
    (b"", SALES_CSV, None, reasons.EMPTY_FILE),
    (b" \r\n\t\n", SALES_CSV, None, reasons.EMPTY_FILE),
    (b"\xef\xbb\xbf\n", SALES_CSV, None, reasons.EMPTY_FILE),
    (b"\n \n", REVIEWS_JSON, None, reasons.EMPTY_FILE),
    (gzip.compress(b"  \n"), REVIEWS_JSON, None, reasons.EMPTY_FILE),
    (TRUNCATED_GZIP, SALES_CSV, None, reasons.DECOMPRESSION_ERROR),
    (gzip.compress(json.dumps([{"review_id": f"R{i}"} for i in range(2_000)]).encode())[:3_000], REVIEWS_JSON, None, reasons.DECOMPRESSION_ERROR),
    (b"\x1f\x8b\x08\x00garbage after the gzip magic", SALES_CSV, None, reasons.DECOMPRESSION_ERROR),
    (bytes(range(256)) * 4, SALES_CSV, None, reasons.PARSE_ERROR),  # binary junk named .csv
    (b"sale_id;dealership\nS1;Austin\n", SALES_CSV, None, reasons.PARSE_ERROR),  # wrong delimiter
    (b"S1,Austin,10.00\nS2,Dallas,11.00\n", SALES_CSV, None, reasons.ALL_ROWS_INVALID),  # no header row
    ("sale_id,dealership\nS1,Zürich\n".encode("latin-1"), SALES_CSV, None, reasons.ENCODING_ERROR),
    ('[{"review_id": "Zürich"}]'.encode("latin-1"), REVIEWS_JSON, None, reasons.ENCODING_ERROR),
    (b"%PDF-1.7\n\x00\x01binary", REVIEWS_JSON, None, reasons.PARSE_ERROR),
    (b'[{"review_id": "R1"}, {"review_id": ', REVIEWS_JSON, None, reasons.PARSE_ERROR),
    (",".join(f"c{i}" for i in range(5_000)).encode() + b"\n1\n", SALES_CSV, None, reasons.SCHEMA_LIMIT),
    (b"[" * 100_000 + b"]" * 100_000, REVIEWS_JSON, None, reasons.SCHEMA_LIMIT),  # beyond the interpreter
    (b'{"review_id": "R1", "tags": ' + b"[" * 9 + b"]" * 9 + b"}", REVIEWS_JSON, TIGHT, reasons.SCHEMA_LIMIT),
    (b"sale_id" + b"x" * (8 << 10), SALES_CSV, TIGHT, reasons.RECORD_TOO_LARGE),  # a header with no line end
    # A CSV row is checked against the limit when it outgrows the largest block (Arrow
    # takes a row across one block boundary, not two): 8 MB against 2 MB blocks.
    (b"sale_id,dealership\nS1," + b"x" * (8 << 20) + b"\n", SALES_CSV, Limits(max_record_bytes=2 << 20),
     reasons.RECORD_TOO_LARGE),
    (json.dumps([{"review_id": "R1", "review_text": "x" * (8 << 10)}]).encode(), REVIEWS_JSON, TIGHT,
     reasons.RECORD_TOO_LARGE),
], ids=["csv-0-bytes", "csv-whitespace", "csv-bom-only", "json-whitespace", "json-gzip-of-nothing",
        "csv-truncated-gzip", "json-truncated-gzip", "csv-corrupt-gzip", "csv-binary-junk", "csv-wrong-delimiter",
        "csv-no-header", "csv-latin1", "json-latin1", "json-pdf-bytes", "json-truncated", "csv-5000-columns",
        "json-nested-100000", "json-nested-9-of-8", "csv-header-too-long", "csv-row-too-long",
        "json-value-too-long"])
def test_each_hostile_file_gets_its_content_reason(data: bytes, key: str, limits: Limits | None,
                                                   reason: str) -> None:
    spec = SPECS_BY_NAME["ecoride_sales" if key.endswith(".csv") else "ecoride_product_reviews"]
    if limits is not None:
        spec = dataclasses.replace(spec, limits=limits)
    assert reason_of(data, spec, key) == reason


@pytest.mark.parametrize("data", [
    b"sale_id,dealership\nS1,\xf5\xff,extra field\nS2,ok\n",  # a malformed row: Arrow's invalid-row callback
    b"sale_id,dealership\nS1,ok\nS2,\xff\n",                  # a well-formed row: Arrow's string conversion
    b"sale_id,dealership\n" + b"S1,ok\n" * 100_000 + b"S2,\xc3\n",  # far into the file, a cut sequence
])
def test_invalid_utf8_after_the_header_is_an_encoding_error_wherever_it_is(data: bytes) -> None:
    # Before: the malformed row failed inside pyarrow's callback ("Exception ignored ...
    # UnicodeDecodeError", an unraisable-exception error under pytest) and was a parse_error.
    assert reason_of(data, SPECS_BY_NAME["ecoride_sales"], SALES_CSV) == reasons.ENCODING_ERROR


def test_a_csv_row_longer_than_the_block_loads_and_only_that_file_is_read_again() -> None:
    long_value = "y" * (3 * csv_parser.BLOCK_SIZE)  # 3 MB against 1 MB blocks
    data = ("sale_id,dealership\n" + "".join(f"S{i},d{i}\n" for i in range(20_000))
            + f'S-1,"{long_value}"\n' + "".join(f"T{i},e{i}\n" for i in range(20_000))).encode()
    opened = 0

    def opener() -> io.BytesIO:
        nonlocal opened
        opened += 1
        return io.BytesIO(data)

    rows = []
    for batch in parse(SourceObject(key=SALES_CSV, etag="e", size=len(data), open=opener), SALES):
        rows += batch.table.column("sale_id").to_pylist()
        if batch.table.num_rows and "S-1" in batch.table.column("sale_id").to_pylist():
            values = batch.table.column("dealership").to_pylist()
            assert len(values[batch.table.column("sale_id").to_pylist().index("S-1")]) == len(long_value)
    assert rows == [f"S{i}" for i in range(20_000)] + ["S-1"] + [f"T{i}" for i in range(20_000)]
    assert opened >= 2  # read again with a bigger block; every row given out once


def test_the_per_dataset_column_cap_refuses_a_file_before_it_adds_anything() -> None:
    spec = dataclasses.replace(SPECS_BY_NAME["ecoride_sales"], limits=TIGHT)
    added: list[list[str]] = []

    def add_columns(names: list[str]):  # noqa: ANN202 - the table's schema after evolution
        added.append(names)
        return spec.schema

    ok = b"sale_id,a,b,c,d\nS1,1,2,3,4\n"  # 4 new columns: at the cap
    over = b"sale_id,a,b,c,d,e\nS1,1,2,3,4,5\n"  # 5: beyond it
    list(FileReader(spec, source(ok, SALES_CSV), NOW).batches(spec.schema, add_columns))
    assert added == [["a", "b", "c", "d"]]
    with pytest.raises(PermanentError) as info:
        list(FileReader(spec, source(over, SALES_CSV), NOW).batches(spec.schema, add_columns))
    assert info.value.reason == reasons.SCHEMA_LIMIT and "at most 4" in str(info.value)
    assert added == [["a", "b", "c", "d"]]  # nothing added for the refused file

    keys_are_data = json.dumps([{"review_id": f"R{i}", f"k{i}": i} for i in range(6)]).encode()
    reviews = dataclasses.replace(REVIEWS, limits=TIGHT)
    with pytest.raises(PermanentError) as info:
        list(FileReader(reviews, source(keys_are_data, REVIEWS_JSON), NOW).batches(reviews.schema, add_columns))
    assert info.value.reason == reasons.SCHEMA_LIMIT


def test_a_large_json_value_is_decoded_a_logarithmic_number_of_times_linear_work(
        monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(json_parser, "READ_CHARS", 1 << 10)
    calls, scanned = 0, 0
    raw_decode = json.JSONDecoder.raw_decode

    def counting(self, s: str, idx: int = 0):  # noqa: ANN001, ANN202
        nonlocal calls, scanned
        calls += 1
        scanned += len(s) - idx
        return raw_decode(self, s, idx)

    monkeypatch.setattr(json.JSONDecoder, "raw_decode", counting)
    size = 1 << 20  # 1 MB value, read in 1 KB chunks: ~1,000 chunks
    data = json.dumps([{"review_id": "R1", "review_text": "x" * size}, {"review_id": "R2"}]).encode()
    values = json_values(data)
    assert [v["review_id"] for v in values] == ["R1", "R2"] and len(values[0]["review_text"]) == size
    # Before: one decode per chunk, each from the value's start: ~1,000 calls, ~500 MB scanned.
    assert calls <= 2 * (size // 1024).bit_length() + 4
    assert scanned <= 4 * len(data)


def test_json_batches_are_bounded_by_bytes_not_only_records() -> None:
    record = {"review_id": "R", "review_text": "x" * (15 << 10)}  # 15 KB records
    count = 1_200  # 18 MB of JSON: one batch of 1,200 records under a count bound of 10,000
    data = "\n".join(json.dumps(record | {"review_id": f"R{i}"}) for i in range(count)).encode()
    sizes = [len(b.values) for b in parse(source(data, REVIEWS_JSON), REVIEWS)]
    assert sum(sizes) == count
    per_batch = json_parser.BATCH_CHARS // len(json.dumps(record)) + 1
    assert len(sizes) >= 2 and max(sizes) <= per_batch, sizes


SUBPROCESS_DROP = r'''
import io, sys, time
from ingestion.parsers import parse
from ingestion.source import SourceObject
from ingestion.specs import SPECS_BY_NAME

class Slow(io.RawIOBase):
    """Takes its time, so Arrow's read-ahead thread is inside it when the reader is dropped."""
    def __init__(self, data): self.data, self.pos = data, 0
    def readable(self): return True
    def readinto(self, buffer):
        time.sleep(0.005)
        n = min(len(buffer), len(self.data) - self.pos, 1 << 16)
        buffer[:n] = self.data[self.pos:self.pos + n]
        self.pos += n
        return n

rows = b"".join(b"S%d,Austin\n" % i for i in range(100_000))
data = {
    "invalid": b"sale_id,dealership\n" + rows[:100_000] + b"S-2,\xff\xfe\n" + rows * 4,
    "long_row": b"sale_id,dealership\n" + rows[:100_000] + b"S-1," + b"x" * (1 << 21) + b"\n" + rows * 4,
    "stopped": b"sale_id,dealership\n" + rows * 4,
}[sys.argv[1]]
for attempt in range(3):
    batches = parse(SourceObject(key="raw/ecoride/sales/x.csv", etag="e", size=len(data),
                                 open=lambda: Slow(data)), SPECS_BY_NAME["ecoride_sales"])
    try:
        next(batches), next(batches)  # then dropped: failed mid-stream, or the consumer stops
    except Exception as exc:
        print(type(exc).__name__, getattr(exc, "reason", ""), flush=True)
    batches.close()
'''


@pytest.mark.parametrize("case", ["invalid", "long_row", "stopped"])
def test_a_csv_reader_dropped_mid_stream_lets_the_process_exit_cleanly(case: str) -> None:
    # Before: Arrow's read-ahead thread still held our stream at exit: SIGABRT (rc 134,
    # "PyGILState_Release ... finalizing") on every run of "invalid" and "stopped".
    project = Path(__file__).resolve().parents[2]
    done = subprocess.run([sys.executable, "-c", SUBPROCESS_DROP, case], cwd=project, capture_output=True,
                          text=True, timeout=120, env=os.environ | {"PYTHONPATH": str(project)})
    assert done.returncode == 0, f"rc {done.returncode}: {done.stderr[-2000:]}"
    assert "Fatal Python error" not in done.stderr and "Exception ignored" not in done.stderr
    if case == "invalid":
        assert done.stdout.split("\n")[:3] == ["PermanentError encoding_error"] * 3
