"""Parsers: CSV dialect corners, JSON shapes, PDF pages, and the error contract."""

from __future__ import annotations

import dataclasses
import gzip
import io
import json

import pytest
from fpdf import FPDF

from lakehouse import reasons
from lakehouse.errors import PermanentError, RetryableError
from ingestion.parsers import Records, TextColumns, normalize_name, parse
from ingestion.parsers import csv as csv_parser
from ingestion.parsers import json as json_parser
from ingestion.source import SourceObject
from ingestion.schema import STRING, columns
from ingestion.specs import SPECS_BY_NAME

# Dialect tests use short column names; a header must name a declared column.
SALES = dataclasses.replace(SPECS_BY_NAME["ecoride_sales"], partition_by=(),
                            schema=columns(a=STRING, b=STRING, sale_id=STRING, dealership=STRING,
                                           sale_price_usd=STRING))
REVIEWS = SPECS_BY_NAME["ecoride_product_reviews"]
DOCS = SPECS_BY_NAME["product_documents"]


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
