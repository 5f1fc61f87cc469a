"""Parsers: a landed file's bytes to raw batches, streamed, one registry by format.

A parser never types values: CSV yields string columns (:class:`TextColumns`),
JSON and PDF yield Python records (:class:`Records`). :mod:`ingestion.coerce`
turns either into the table's types, rescuing what does not fit, so every
format follows one set of typing rules.

A parser is given an *opener* rather than a stream: it may read the file more
than once (the CSV parser starts again with a bigger block when a row does not
fit in one), and it closes what it opened itself.

Error contract (the loader relies on it): every content failure is a
``PermanentError`` whose reason is one of :mod:`lakehouse.reasons`:

* ``empty_file`` — nothing but whitespace (or a BOM) after decompression;
* ``decompression_error`` — a truncated or corrupt gzip stream;
* ``encoding_error`` — text that is not in the spec's encoding (UTF-8);
* ``parse_error`` — not CSV/JSON/PDF (syntax, structure, binary junk);
* ``schema_limit`` / ``record_too_large`` — beyond the spec's :class:`~ingestion.specs.Limits`.

A failure to read the source (storage outage) raises ``RetryableError`` —
never a content reason, or a network blip would quarantine a good file.
"""

from __future__ import annotations

import gzip
import io
import re
import zlib
from collections.abc import Callable, Iterator
from contextlib import AbstractContextManager, contextmanager
from dataclasses import dataclass, field
from typing import Any, BinaryIO

import pyarrow as pa
from minio.error import S3Error
from urllib3.exceptions import HTTPError

from lakehouse import reasons
from lakehouse.errors import PermanentError, RetryableError
from ingestion.source import SourceObject
from ingestion.specs import DatasetSpec

GZIP_MAGIC = b"\x1f\x8b"


@dataclass
class TextColumns:
    """A batch of CSV rows: every column a string array, names normalized.

    ``malformed`` holds the raw text of rows that had the wrong number of
    fields; they are kept as rows with the text in ``_rescued_data``.
    """

    table: pa.Table
    malformed: list[str] = field(default_factory=list)


@dataclass
class Records:
    """A batch of decoded JSON values (objects, normally) or PDF page records."""

    values: list[Any]


RawBatch = TextColumns | Records
Opener = Callable[[], AbstractContextManager[BinaryIO]]
"""Opens a fresh decompressed stream of the file (a context manager that closes it)."""
Parser = Callable[[Opener, DatasetSpec, str], Iterator[RawBatch]]


def normalize_name(raw: str, position: int = 0) -> str:
    """snake_case a header or JSON key: ``" Sale Price (USD)"`` -> ``sale_price_usd``."""
    name = re.sub(r"[^0-9a-z]+", "_", raw.strip().lower()).strip("_")
    return name or f"column_{position + 1}"


class GuardedStream(io.RawIOBase):
    """Turns read failures of the underlying object into RetryableError.

    Sits below the gzip layer, so an OSError that gzip raises afterwards
    (BadGzipFile) is about content, not the network.
    """

    def __init__(self, raw: BinaryIO, key: str) -> None:
        self._raw = raw
        self._key = key

    def readable(self) -> bool:
        return True

    def readinto(self, buffer: Any) -> int:
        try:
            data = self._raw.read(len(buffer))
        except (HTTPError, S3Error, ConnectionError, TimeoutError) as exc:
            raise RetryableError(f"reading {self._key} failed: {exc}") from exc
        n = len(data)
        buffer[:n] = data
        return n


class _GuardedGzip(io.RawIOBase):
    """Decompressed bytes; a corrupt or truncated gzip stream is ``decompression_error``.

    Classified here, where the cause is certain: above this layer the same
    ``EOFError`` or ``OSError`` could mean anything.
    """

    def __init__(self, compressed: BinaryIO, key: str) -> None:
        self._gzip = gzip.GzipFile(fileobj=compressed, mode="rb")
        self._key = key

    def readable(self) -> bool:
        return True

    def readinto(self, buffer: Any) -> int:
        try:
            return self._gzip.readinto(buffer)
        except (EOFError, gzip.BadGzipFile, zlib.error) as exc:
            raise PermanentError(f"{self._key}: gzip data is truncated or corrupt ({exc})",
                                 reason=reasons.DECOMPRESSION_ERROR) from exc


def _open_raw(obj: SourceObject) -> BinaryIO:
    try:
        return obj.open()
    except FileNotFoundError as exc:
        raise PermanentError(f"{obj.key} no longer exists", reason=reasons.OBJECT_MISSING) from exc
    except S3Error as exc:
        if exc.code in ("NoSuchKey", "NoSuchObject"):
            raise PermanentError(f"{obj.key} no longer exists", reason=reasons.OBJECT_MISSING) from exc
        raise RetryableError(f"cannot open {obj.key}: {exc}") from exc


@contextmanager
def open_source(obj: SourceObject) -> Iterator[BinaryIO]:
    """A fresh, decompressed binary stream of the object (gzip detected by magic bytes).

    The key's ``.gz`` suffix is not trusted either way: a gzip file without the
    suffix is still read, and a plain file named ``.gz`` is read as plain.
    """
    raw = _open_raw(obj)
    try:
        buffered = io.BufferedReader(GuardedStream(raw, obj.key), 1 << 20)
        if buffered.peek(2)[:2] == GZIP_MAGIC:
            yield io.BufferedReader(_GuardedGzip(buffered, obj.key), 1 << 20)  # type: ignore[arg-type]
        else:
            yield buffered
    finally:
        close_raw(raw)


def close_raw(raw: BinaryIO) -> None:
    """Close what ``SourceObject.open`` returned (an urllib3 response also gives back its pooled connection)."""
    raw.close()
    release = getattr(raw, "release_conn", None)
    if release is not None:
        release()


# Exceptions that mean "the bytes are not what the format promises" (after the
# parsers' own, more precise classification). RecursionError: a structure nested
# beyond the interpreter's stack (the JSON parser reports it as schema_limit).
CONTENT_ERRORS: tuple[type[BaseException], ...] = (
    pa.ArrowInvalid, pa.ArrowTypeError, pa.ArrowNotImplementedError, pa.ArrowCapacityError,
    pa.ArrowIndexError, pa.ArrowKeyError, ValueError, EOFError, RecursionError,
)


def classify(exc: BaseException, what: str) -> PermanentError:
    """The content reason of an exception raised while decoding a file."""
    if isinstance(exc, UnicodeError) or (isinstance(exc, pa.ArrowInvalid) and "UTF8" in str(exc)):
        return PermanentError(f"{what}: not valid text in the spec's encoding ({exc})", reason=reasons.ENCODING_ERROR)
    if isinstance(exc, RecursionError):
        return PermanentError(f"{what}: nested too deeply to read", reason=reasons.SCHEMA_LIMIT)
    return PermanentError(f"{what}: {type(exc).__name__}: {exc}", reason=reasons.PARSE_ERROR)


def parse(obj: SourceObject, spec: DatasetSpec) -> Iterator[RawBatch]:
    """Stream the raw batches of one file through its spec's parser.

    Raises:
        PermanentError: a content reason of :mod:`lakehouse.reasons` (see the module doc).
        RetryableError: the storage failed while reading.
    """
    parser = PARSERS[spec.format]
    try:
        yield from parser(lambda: open_source(obj), spec, obj.key)
    except (PermanentError, RetryableError):
        raise
    except CONTENT_ERRORS as exc:
        raise classify(exc, f"{obj.key} is not valid {spec.format}") from exc


def _registry() -> dict[str, Parser]:
    from ingestion.parsers import csv, json, pdf

    return {"csv": csv.parse_csv, "json": json.parse_json, "pdf": pdf.parse_pdf}


PARSERS: dict[str, Parser] = _registry()
