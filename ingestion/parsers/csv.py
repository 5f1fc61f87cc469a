"""CSV: header row, RFC 4180 quoting, embedded newlines, BOM, CRLF, any size.

Arrow's streaming CSV reader does the work in blocks (bounded memory; a 1 GB
file never sits in RAM). Every column is read as a string: typing happens in
:mod:`ingestion.coerce`, where a bad value can be rescued instead of failing
the block. Empty fields are null.

The header is read here rather than by Arrow because Arrow needs the column
names up front to force string types; it handles quoted header cells too.

A row longer than a block makes Arrow fail ("straddling object"): the file is
then read again from the start with twice the block, skipping the rows already
given out, up to the spec's ``max_record_bytes`` (beyond: ``record_too_large``).
Only files with such a row pay for the re-read.
"""

from __future__ import annotations

import codecs
import csv
import io
import logging
import re
import threading
import traceback
import weakref
from collections.abc import Callable, Iterator
from typing import Any, BinaryIO

import pyarrow as pa
import pyarrow.csv as pacsv

from lakehouse import reasons
from lakehouse.errors import PermanentError
from ingestion.parsers import Opener, TextColumns, normalize_name
from ingestion.schema import data_column_names
from ingestion.specs import DatasetSpec

log = logging.getLogger(__name__)

# Bytes of text per Arrow block (and so per batch). Small on purpose: Arrow's CSV
# reader keeps several blocks in flight and the allocator holds on to freed
# blocks, so resident memory grows with this far more than the pool does
# (8 MB blocks: ~450 MB RSS for 66 MB of live Arrow memory; 1 MB: ~120 MB).
BLOCK_SIZE = 1 << 20
READ_BYTES = 64 << 10
BOM = b"\xef\xbb\xbf"
# Delimiters a file sent with the wrong one most likely uses (the error says which).
OTHER_DELIMITERS = (";", "\t", "|", ",")
# Seconds to wait for Arrow's read-ahead thread to leave our stream (see _Feed.shutdown).
SHUTDOWN_WAIT = 10.0


class _BlockTooSmall(Exception):
    """Arrow met a row longer than the block: read again with a bigger one."""


def _record_end(data: bytes, start: int, quote: int, in_quotes: bool) -> tuple[int, int, bool]:
    """Index and length of the first unquoted line end at or after ``start`` (-1 if none yet)."""
    specials = re.compile(rb"[\r\n" + re.escape(bytes([quote])) + rb"]")
    i = start
    while True:
        match = specials.search(data, i)
        if match is None:
            return -1, 0, in_quotes
        i = match.start()
        if data[i] == quote:
            in_quotes = not in_quotes
        elif not in_quotes:
            if data[i] == 0x0D and i + 1 == len(data):
                return -2, 0, in_quotes  # a CR at the end: read on to see if LF follows
            return i, 2 if data[i : i + 2] == b"\r\n" else 1, in_quotes
        i += 1


def _read_record(stream: BinaryIO, data: bytes, quote: bytes, limit: int, key: str) -> tuple[bytes, bytes, bool]:
    """Split the first record off ``data`` + the stream: (record, rest, at end of file)."""
    scanned, in_quotes = 0, False
    while True:
        end, width, in_quotes = _record_end(data, scanned, quote[0], in_quotes)
        if end >= 0:
            return data[:end], data[end + width :], False
        scanned = len(data) - 1 if end == -2 else len(data)
        if len(data) > limit:
            raise PermanentError(f"{key}: the header row is longer than {limit} bytes (no line end found)",
                                 reason=reasons.RECORD_TOO_LARGE)
        chunk = stream.read(READ_BYTES)
        if not chunk:
            return data, b"", True
        data += chunk


def _read_header(stream: BinaryIO, spec: DatasetSpec, key: str) -> tuple[bytes, bytes]:
    """The header record (blank lines before it skipped) and the bytes read after it.

    Raises:
        PermanentError: ``empty_file`` when there is nothing but whitespace.
    """
    quote, limit = spec.options.quote_char.encode(), spec.limits.max_record_bytes
    rest = stream.read(READ_BYTES).removeprefix(BOM)
    while True:
        header, rest, at_end = _read_record(stream, rest, quote, limit, key)
        if header.strip():
            return header, rest
        if at_end:
            raise PermanentError(f"{key} has no content (nothing but whitespace)", reason=reasons.EMPTY_FILE)


def _unique(names: list[str]) -> list[str]:
    """Duplicate headers must not collapse into one column: ``a, a_dup, a_dup2, ...``."""
    taken: set[str] = set()
    counters: dict[str, int] = {}
    out = []
    for name in names:
        candidate = name
        while candidate in taken:
            n = counters.get(name, 0) + 1
            counters[name] = n
            candidate = f"{name}_dup" if n == 1 else f"{name}_dup{n}"
        taken.add(candidate)
        out.append(candidate)
    return out


def _cells(text: str, delimiter: str, quote: str) -> list[str]:
    return next(csv.reader([text], delimiter=delimiter, quotechar=quote), [])


def _column_names(header: bytes, spec: DatasetSpec, key: str) -> list[str]:
    """Normalized, unique names; a header that names no declared column is refused.

    Such a file cannot have a valid row, and loading it would add its header
    cells as garbage columns: the usual causes are a wrong delimiter (one
    column named ``sale_id_customer_id_...``) or a missing header row.
    """
    if b"\x00" in header:
        raise PermanentError(f"{key}: the first line holds NUL bytes: binary data, not CSV text",
                             reason=reasons.PARSE_ERROR)
    opts = spec.options
    text = header.decode(opts.encoding).rstrip("\r")
    cells = _cells(text, opts.delimiter, opts.quote_char)
    names = _unique([normalize_name(cell, position) for position, cell in enumerate(cells)])
    declared = data_column_names(spec.schema)
    if set(names) & set(declared):
        return names  # the reader caps how many of the others the file may add
    if len(names) > spec.limits.max_new_columns:
        raise PermanentError(f"{key}: its header has {len(names)} columns, none of them a column of {spec.name}; "
                             f"a file may add at most {spec.limits.max_new_columns}", reason=reasons.SCHEMA_LIMIT)
    for other in OTHER_DELIMITERS:
        split = _cells(text, other, opts.quote_char)
        if other != opts.delimiter and len(split) > len(cells) and {normalize_name(c) for c in split} & set(declared):
            raise PermanentError(f"{key}: the header is delimited by {other!r}, but {spec.name} files use "
                                 f"{opts.delimiter!r}", reason=reasons.PARSE_ERROR)
    shown = ", ".join(names[:5]) + (", ..." if len(names) > 5 else "")
    raise PermanentError(f"{key}: its header ({shown}) names none of the columns of {spec.name} "
                         f"({', '.join(declared)}); is the header row missing?", reason=reasons.ALL_ROWS_INVALID)


class _Feed(io.RawIOBase):
    """What Arrow reads after the header: ``head``, then the rest of ``stream``.

    Arrow reads ahead on its own I/O thread, through a reference to this
    object. A reader dropped mid-stream (an ArrowInvalid, a consumer that
    stops) leaves that thread inside our ``read`` or holding the last
    reference; if the interpreter exits meanwhile, the process aborts (SIGABRT,
    "PyGILState_Release ... finalizing"). :meth:`shutdown` makes further reads
    return end-of-file at once and waits until Arrow has let go of the stream,
    so nothing of ours runs on Arrow's thread once the parser is done.

    UTF-8 is checked here, as the bytes pass, rather than left to Arrow: Arrow
    finds invalid text in a well-formed row, but a malformed row with invalid
    bytes fails inside pyarrow's invalid-row callback (an "Exception ignored"
    on stderr, then a misleading ``parse_error``). :attr:`error` keeps the
    ``encoding_error`` for the parser, whatever Arrow makes of the failed read.
    """

    def __init__(self, head: bytes, stream: BinaryIO, key: str, encoding: str) -> None:
        self._head = head
        self._stream = stream
        self._key = key
        utf8 = codecs.lookup(encoding).name == "utf-8"
        self._utf8 = codecs.getincrementaldecoder("utf-8")() if utf8 else None
        self._offset = 0  # bytes handed on so far (for the error message)
        self.error: PermanentError | None = None
        self._closing = False
        self._reading = 0
        self._idle = threading.Condition()

    def readable(self) -> bool:
        return True

    def readinto(self, buffer: Any) -> int:
        with self._idle:
            if self._closing:
                return 0
            self._reading += 1
        try:
            if self._head:
                data, self._head = self._head[: len(buffer)], self._head[len(buffer) :]
            else:
                data = self._stream.read(len(buffer))
            self._check_text(data)
            buffer[: len(data)] = data
            return len(data)
        finally:
            with self._idle:
                self._reading -= 1
                self._idle.notify_all()

    def _check_text(self, data: bytes) -> None:
        """Raise (and keep) ``encoding_error`` at the first byte that is not UTF-8 (end of file: ``b""``)."""
        if self._utf8 is not None:
            try:
                self._utf8.decode(data, final=not data)
            except UnicodeDecodeError as exc:
                self.error = PermanentError(
                    f"{self._key}: not valid UTF-8 text (byte {self._offset + exc.start} after the header: {exc.reason})",
                    reason=reasons.ENCODING_ERROR)
                raise self.error from exc
        self._offset += len(data)

    def shutdown(self, released: _Released) -> None:
        """End the stream for Arrow and wait until Arrow dropped it and the row handler."""
        with self._idle:
            self._closing = True
            idle = self._idle.wait_for(lambda: self._reading == 0, SHUTDOWN_WAIT)
        if not idle or not released.wait(SHUTDOWN_WAIT):
            log.warning("Arrow's CSV reader still holds Python objects after %.0f s", SHUTDOWN_WAIT)


class _Released:
    """Set once every object given to Arrow was freed (Arrow frees them on its own threads)."""

    def __init__(self, *objects: object) -> None:
        self._events = []
        for obj in objects:
            event = threading.Event()
            weakref.finalize(obj, event.set)
            self._events.append(event)

    def wait(self, timeout: float) -> bool:
        return all(event.wait(timeout) for event in self._events)


def _arrow_reader(stream: pa.NativeFile, names: list[str], spec: DatasetSpec, block: int,
                  on_invalid: Callable[[pacsv.InvalidRow], str]) -> pacsv.CSVStreamingReader:
    opts = spec.options
    return pacsv.open_csv(
        stream,
        read_options=pacsv.ReadOptions(column_names=names, block_size=block, encoding=opts.encoding),
        parse_options=pacsv.ParseOptions(
            delimiter=opts.delimiter, quote_char=opts.quote_char, newlines_in_values=True,
            invalid_row_handler=on_invalid,
        ),
        convert_options=pacsv.ConvertOptions(
            column_types={n: pa.string() for n in names}, null_values=[""], strings_can_be_null=True,
            quoted_strings_can_be_null=True,
        ),
    )


def _empty(names: list[str], malformed: list[str]) -> TextColumns:
    return TextColumns(pa.table({n: pa.array([], pa.string()) for n in names}), malformed)


def _batches(feed: _Feed, names: list[str], spec: DatasetSpec, block: int) -> Iterator[TextColumns]:
    """Arrow's batches with the rows it set aside; the reader closed and released whatever happens."""
    malformed: list[str] = []

    def keep_aside(row: pacsv.InvalidRow) -> str:
        malformed.append(row.text or "")
        return "skip"

    # Arrow's own buffer between us and the reader: the blocks it hands on are
    # copies in Arrow memory. Unbuffered, each block would be a wrapped Python
    # bytes object that Arrow's threads free later, needing the interpreter.
    # (``handle``: what Arrow's Python file refers to, so its release can be watched.)
    handle = io.BufferedReader(feed)
    native = pa.input_stream(handle, buffer_size=2 * block)
    released = _Released(handle, keep_aside)
    del handle
    try:
        try:  # opening reads the first block already: it can fail like any later read
            reader = _arrow_reader(native, names, spec, block, keep_aside)
        finally:
            del native, keep_aside  # from here only Arrow holds them
        try:
            for batch in reader:
                taken, malformed[:] = list(malformed), []
                yield TextColumns(pa.Table.from_batches([batch]), taken)
        finally:
            reader.close()
            del reader
    except BaseException as exc:
        # The traceback's finished frames (_arrow_reader's) still hold what
        # Arrow was given; clear them, or Arrow's release is never the last one.
        traceback.clear_frames(exc.__traceback__)
        if feed.error is not None and exc is not feed.error:
            raise feed.error from exc  # however Arrow reported our failed read
        if isinstance(exc, pa.ArrowInvalid) and "straddl" in str(exc):
            raise _BlockTooSmall() from exc
        raise
    finally:
        feed.shutdown(released)
    if malformed:
        yield _empty(names, list(malformed))


def _skipped(batches: Iterator[TextColumns], rows: int, malformed: int) -> Iterator[TextColumns]:
    """Drop the first ``rows`` rows and ``malformed`` set-aside rows (given out before a re-read)."""
    for batch in batches:
        table, aside = batch.table, batch.malformed
        if rows:
            cut = min(rows, table.num_rows)
            table, rows = table.slice(cut), rows - cut
        if malformed:
            cut = min(malformed, len(aside))
            aside, malformed = aside[cut:], malformed - cut
        if table.num_rows or aside:
            yield TextColumns(table, aside)


def _read_once(stream: BinaryIO, spec: DatasetSpec, key: str, block: int,
               done: tuple[int, int]) -> Iterator[TextColumns]:
    header, rest = _read_header(stream, spec, key)
    names = _column_names(header, spec, key)
    while not rest.strip(b"\r\n"):
        more = stream.read(READ_BYTES)
        if not more:  # header only: Arrow would call that an empty file
            yield _empty(names, [])
            return
        rest += more
    given = False
    for batch in _skipped(_batches(_Feed(rest, stream, key, spec.options.encoding), names, spec, block), *done):
        given = True
        yield batch
    if not given and done == (0, 0):
        yield _empty(names, [])  # only blank lines after the header: still its columns


def parse_csv(open_stream: Opener, spec: DatasetSpec, key: str) -> Iterator[TextColumns]:
    """Yield string batches of about ``BLOCK_SIZE`` bytes of text each.

    A header-only file yields one empty batch (so its columns still evolve the
    schema). Rows with the wrong number of fields are kept aside as
    ``malformed`` rather than failing the file.

    Raises:
        PermanentError: ``empty_file``, ``encoding_error``, ``parse_error``,
            ``all_rows_invalid`` (a header naming no column of the dataset),
            ``record_too_large`` (a row above ``spec.limits.max_record_bytes``).
    """
    block, rows, malformed = BLOCK_SIZE, 0, 0
    while True:
        try:
            with open_stream() as stream:
                for batch in _read_once(stream, spec, key, block, (rows, malformed)):
                    rows += batch.table.num_rows
                    malformed += len(batch.malformed)
                    yield batch
            return
        except _BlockTooSmall as exc:
            if block >= spec.limits.max_record_bytes:
                raise PermanentError(f"{key}: a row is longer than {spec.limits.max_record_bytes} bytes",
                                     reason=reasons.RECORD_TOO_LARGE) from exc.__cause__
            block = min(block * 2, spec.limits.max_record_bytes)
            log.info("%s: a row is longer than the CSV block; reading again with %d-byte blocks", key, block)
