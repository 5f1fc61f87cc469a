"""JSON: an array of objects, JSON Lines, or concatenated objects — streamed.

The standard library has no streaming array reader, so values are cut out of
a sliding text buffer with ``JSONDecoder.raw_decode``: memory is bounded by
the buffer plus one batch of records, whatever the file size. Whether a file
is an array or JSON Lines is decided by its first character, not its suffix.

Hazard: any undecodable value (a truncated file, a stray comma) fails the whole
file with ``parse_error``. We do not skip bad lines: a truncated array and a
cut-off JSON Lines file look alike, and a partial load would be a silent loss.
"""

from __future__ import annotations

import io
import json
from collections.abc import Iterator
from typing import Any, BinaryIO

from lakehouse.errors import PermanentError
from ingestion.parsers import Records
from ingestion.specs import DatasetSpec

BATCH_RECORDS = 10_000
READ_CHARS = 1 << 20
MAX_VALUE_CHARS = 64 << 20  # one JSON value larger than this is not a record
WHITESPACE = " \t\r\n"


class _ValueStream:
    """Cuts JSON values out of a text stream, array or sequence form."""

    def __init__(self, text: io.TextIOBase, key: str) -> None:
        self._text = text
        self._key = key
        self._buf = ""
        self._pos = 0
        self._eof = False
        self._consumed = 0  # characters dropped from the front of the buffer
        self._decoder = json.JSONDecoder()

    def _fill(self) -> bool:
        if self._eof:
            return False
        chunk = self._text.read(READ_CHARS)
        if not chunk:
            self._eof = True
            return False
        if self._pos > READ_CHARS:  # drop what was decoded, keep the tail
            self._consumed += self._pos
            self._buf, self._pos = self._buf[self._pos :], 0
        self._buf += chunk
        return True

    def _peek(self) -> str:
        """Next non-whitespace character ('' at end of file), not consumed."""
        while True:
            while self._pos < len(self._buf) and self._buf[self._pos] in WHITESPACE:
                self._pos += 1
            if self._pos < len(self._buf) or not self._fill():
                return self._buf[self._pos : self._pos + 1]

    def _fail(self, what: str) -> PermanentError:
        offset = self._consumed + self._pos
        return PermanentError(f"{self._key}: {what} at character {offset}", reason="parse_error")

    def _value(self) -> Any:
        if not self._peek():
            raise self._fail("unexpected end of file (truncated?)")
        while True:
            try:
                value, end = self._decoder.raw_decode(self._buf, self._pos)
            except json.JSONDecodeError as exc:
                if len(self._buf) - self._pos > MAX_VALUE_CHARS:
                    raise self._fail(f"no complete JSON value within {MAX_VALUE_CHARS} characters") from exc
                if self._fill():
                    continue
                raise self._fail(f"invalid or truncated JSON ({exc.msg})") from exc
            # A number at the very end of the buffer may continue in the next chunk.
            if end == len(self._buf) and self._fill():
                continue
            self._pos = end
            return value

    def __iter__(self) -> Iterator[Any]:
        first = self._peek()
        if first == "[":
            self._pos += 1
            yield from self._array()
            if self._peek():
                raise self._fail("unexpected data after the closing ]")
            return
        while self._peek():
            yield self._value()

    def _array(self) -> Iterator[Any]:
        if self._peek() == "]":
            self._pos += 1
            return
        while True:
            yield self._value()
            sep = self._peek()
            if sep == "]":
                self._pos += 1
                return
            if sep != ",":
                raise self._fail("expected , or ] in array" if sep else "array is not closed (truncated file?)")
            self._pos += 1


def parse_json(stream: BinaryIO, spec: DatasetSpec, key: str) -> Iterator[Records]:
    """Yield batches of up to ``BATCH_RECORDS`` decoded values (a BOM is tolerated)."""
    encoding = "utf-8-sig" if spec.options.encoding.lower() in ("utf-8", "utf8") else spec.options.encoding
    text = io.TextIOWrapper(stream, encoding=encoding)  # type: ignore[arg-type]
    batch: list[Any] = []
    for value in _ValueStream(text, key):
        batch.append(value)
        if len(batch) >= BATCH_RECORDS:
            yield Records(batch)
            batch = []
    if batch:
        yield Records(batch)
