"""CSV: header row, RFC 4180 quoting, embedded newlines, BOM, CRLF, any size.

Arrow's streaming CSV reader does the work in blocks (bounded memory; a 1 GB
file never sits in RAM). Every column is read as a string: typing happens in
:mod:`ingestion.coerce`, where a bad value can be rescued instead of failing
the block. Empty fields are null.

The header is read here rather than by Arrow because Arrow needs the column
names up front to force string types; it handles quoted header cells too.
"""

from __future__ import annotations

import csv
import io
from collections.abc import Callable, Iterator
from typing import BinaryIO

import pyarrow as pa
import pyarrow.csv as pacsv

from lakehouse.errors import PermanentError
from ingestion.parsers import TextColumns, normalize_name
from ingestion.specs import DatasetSpec

# Bytes of text per Arrow block (and so per batch). Small on purpose: Arrow's CSV
# reader keeps several blocks in flight and the allocator holds on to freed
# blocks, so resident memory grows with this far more than the pool does
# (8 MB blocks: ~450 MB RSS for 66 MB of live Arrow memory; 1 MB: ~120 MB).
BLOCK_SIZE = 1 << 20
MAX_HEADER_BYTES = 1 << 20
BOM = b"\xef\xbb\xbf"


def _read_header(stream: BinaryIO, quote: bytes, key: str) -> tuple[bytes, bytes]:
    """Split off the first record; return (header bytes, bytes already read after it)."""
    data, i, in_quotes = b"", 0, False
    while True:
        chunk = stream.read(64 << 10)
        data += chunk
        while i < len(data):
            byte = data[i]
            if byte == quote[0]:
                in_quotes = not in_quotes
            elif byte in (0x0A, 0x0D) and not in_quotes:
                if byte == 0x0D and i + 1 == len(data) and chunk:
                    break  # a CR at the end of the chunk: read on to see if LF follows
                end = i + 2 if data[i : i + 2] == b"\r\n" else i + 1
                return data[:i], data[end:]
            i += 1
        if not chunk:
            return data, b""
        if len(data) > MAX_HEADER_BYTES:
            raise PermanentError(f"{key}: no end of the header row in the first MB", reason="parse_error")


class _Prefixed(io.RawIOBase):
    """``head`` followed by the rest of ``stream`` (what Arrow reads after the header)."""

    def __init__(self, head: bytes, stream: BinaryIO) -> None:
        self._head = head
        self._stream = stream

    def readable(self) -> bool:
        return True

    def readinto(self, buffer: memoryview) -> int:  # type: ignore[override]
        if self._head:
            n = min(len(buffer), len(self._head))
            buffer[:n] = self._head[:n]
            self._head = self._head[n:]
            return n
        data = self._stream.read(len(buffer))
        buffer[: len(data)] = data
        return len(data)


def _column_names(header: bytes, spec: DatasetSpec) -> list[str]:
    text = header.removeprefix(BOM).decode(spec.options.encoding).rstrip("\r")
    cells = next(csv.reader([text], delimiter=spec.options.delimiter, quotechar=spec.options.quote_char), [])
    names: list[str] = []
    for position, cell in enumerate(cells):
        name = normalize_name(cell, position)
        while name in names:  # duplicate headers must not collapse into one column
            name += "_dup"
        names.append(name)
    return names


def _arrow_reader(stream: BinaryIO, names: list[str], spec: DatasetSpec,
                  on_invalid: Callable[[pacsv.InvalidRow], str]) -> pacsv.CSVStreamingReader:
    opts = spec.options
    return pacsv.open_csv(
        stream,
        read_options=pacsv.ReadOptions(column_names=names, block_size=BLOCK_SIZE, encoding=opts.encoding),
        parse_options=pacsv.ParseOptions(
            delimiter=opts.delimiter, quote_char=opts.quote_char, newlines_in_values=True,
            invalid_row_handler=on_invalid,
        ),
        convert_options=pacsv.ConvertOptions(
            column_types={n: pa.string() for n in names}, null_values=[""], strings_can_be_null=True,
            quoted_strings_can_be_null=True,
        ),
    )


def parse_csv(stream: BinaryIO, spec: DatasetSpec, key: str) -> Iterator[TextColumns]:
    """Yield string batches of about ``BLOCK_SIZE`` bytes of text each.

    A header-only file yields one empty batch (so its columns still evolve the
    schema); an empty file yields nothing. Rows with the wrong number of fields
    are kept aside as ``malformed`` rather than failing the file.
    """
    opts = spec.options
    header, rest = _read_header(stream, opts.quote_char.encode(), key)
    if not header.strip(b"\r\n" + BOM):
        return
    names = _column_names(header, spec)
    while not rest.strip(b"\r\n"):
        more = stream.read(64 << 10)
        if not more:  # header only: Arrow would call that an empty file
            yield TextColumns(pa.table({n: pa.array([], pa.string()) for n in names}))
            return
        rest += more
    malformed: list[str] = []

    def keep_aside(row: pacsv.InvalidRow) -> str:
        malformed.append(row.text or "")
        return "skip"

    reader = _arrow_reader(io.BufferedReader(_Prefixed(rest, stream), 1 << 20), names, spec, keep_aside)
    yielded = False
    for batch in reader:
        taken, malformed[:] = list(malformed), []
        yielded = True
        yield TextColumns(pa.Table.from_batches([batch]), taken)
    if malformed or not yielded:
        yield TextColumns(pa.table({n: pa.array([], pa.string()) for n in names}), list(malformed))
