"""Twelve kinds of bad file, each with the reasons of lakehouse/reasons.py that classify it."""

from __future__ import annotations

import gzip
import random
from dataclasses import dataclass

from lakehouse import reasons as r

SALES_HEADER = "sale_id,customer_id,vehicle_id,model_id,sale_date,sale_price_usd,discount_usd,payment_method,dealership,state"
SALES_ROW = "SALE-F{n:07d},CUST-000001,7FMAURPA{n:09d},FM-AURORA,2024-01-02,41300.00,0.00,financing,FutureMobility Test,OH"


@dataclass(frozen=True)
class BadFile:
    kind: str
    key: str
    data: bytes
    reasons: frozenset[str]  # the classifications that are right for it (the first is the preferred one)


def _sales(rows: int, header: str = SALES_HEADER, sep: str = ",") -> bytes:
    lines = [header.replace(",", sep)] + [SALES_ROW.format(n=i).replace(",", sep) for i in range(rows)]
    return ("\n".join(lines) + "\n").encode()


def bad_files(huge_line_mb: int = 100) -> list[BadFile]:
    """The issue's twelve kinds, under ``faults/`` folders of the datasets they pretend to be."""
    junk = random.Random(7).randbytes(8192)  # noqa: S311 - test data
    wide_header = ",".join(f"col_{i:04d}" for i in range(5000))
    huge = f"{SALES_HEADER}\n{SALES_ROW.format(n=1)[:-2]}{'x' * (huge_line_mb * 1024 * 1024)}\n".encode()
    nested = b'[{"record_id": "R-1", "battery": ' + b'{"a": ' * 50_000 + b"1" + b"}" * 50_000 + b"}]"
    latin1 = ("customer_id,first_name,last_name,email,phone,city,state,country,signup_date,birth_year\n"
              "CUST-F0001,J\u00fcrgen,M\u00fcller,jm@example.com,555-0100,K\u00f6ln,OH,US,2023-01-02,1980\n").encode("latin-1")
    files = [
        BadFile("empty file", "raw/ecoride/sales/faults/empty.csv", b"", frozenset({r.EMPTY_FILE})),
        BadFile("truncated gzip", "raw/ecoride/sales/faults/truncated.csv.gz", gzip.compress(_sales(200))[:700],
                frozenset({r.DECOMPRESSION_ERROR})),
        BadFile("JSON syntax error", "raw/chargenet/stations/faults/syntax.json",
                b'[{"station_id": "ST-F1", "name": }, {"station_id": "ST-F2"}]', frozenset({r.PARSE_ERROR})),
        BadFile("deeply nested JSON", "raw/vehicle_health/faults/deep.json", nested, frozenset({r.SCHEMA_LIMIT, r.PARSE_ERROR})),
        BadFile("CSV with a missing header", "raw/ecoride/sales/faults/no-header.csv",
                _sales(20, header=SALES_ROW.format(n=999_999)), frozenset({r.ALL_ROWS_INVALID, r.PARSE_ERROR, r.SCHEMA_LIMIT})),
        BadFile("wrong delimiter", "raw/ecoride/sales/faults/semicolons.csv", _sales(20, sep=";"),
                frozenset({r.ALL_ROWS_INVALID, r.PARSE_ERROR})),
        BadFile("binary junk named .csv", "raw/ecoride/sales/faults/junk.csv", junk, frozenset({r.ENCODING_ERROR, r.PARSE_ERROR})),
        BadFile(f"a {huge_line_mb} MB single line", "raw/ecoride/sales/faults/huge-line.csv", huge, frozenset({r.RECORD_TOO_LARGE})),
        BadFile("non-UTF-8 text", "raw/ecoride/customers/faults/latin1.csv", latin1, frozenset({r.ENCODING_ERROR})),
        BadFile("an unroutable key", "raw/unknown/faults/thing.csv", _sales(3), frozenset({r.UNROUTABLE_KEY})),
        BadFile("a PDF that is not a PDF", "raw/docs/specs/faults/FM-NOTAPDF.pdf", b"%PDF-1.7\nthis is plain text, not a PDF\n",
                frozenset({r.PARSE_ERROR})),
        BadFile("a 5,000-column header", "raw/ecoride/sales/faults/wide.csv", (wide_header + "\n" + ",".join("1" * 5000) + "\n").encode(),
                frozenset({r.SCHEMA_LIMIT})),
    ]
    assert len(files) == 12
    return files
