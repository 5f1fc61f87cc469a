"""JSON: an array of objects, JSON Lines, or concatenated objects — streamed.

The standard library has no streaming array reader, so values are cut out of
a sliding text buffer with ``JSONDecoder.raw_decode``: memory is bounded by
the buffer plus one batch of records, whatever the file size. Whether a file
is an array or JSON Lines is decided by its first character, not its suffix.

A value that does not fit in the buffer is retried after reading as much
again as the buffer holds (doubling), so a value of n characters costs
O(log n) decode attempts and O(n) work in all, never one attempt per chunk.
Batches are bounded by characters as well as by records, so big records do
not make big batches.

Limits (the spec's :class:`~ingestion.specs.Limits`): a value longer than
``max_record_bytes`` characters is ``record_too_large``; one nested deeper
than ``max_depth`` (or too deep for the interpreter to decode) is
``schema_limit``.

Hazard: any undecodable value (a truncated file, a stray comma) fails the whole
file with ``parse_error``. We do not skip bad lines: a truncated array and a
cut-off JSON Lines file look alike, and a partial load would be a silent loss.
"""

from __future__ import annotations

import io
import json
import re
from collections.abc import Iterator
from typing import Any

from lakehouse import reasons
from lakehouse.errors import PermanentError
from ingestion.parsers import Opener, Records
from ingestion.specs import DatasetSpec, Limits

BATCH_RECORDS = 10_000
BATCH_CHARS = 8 << 20  # ~8 MB of JSON text per batch (Python objects take several times that)
READ_CHARS = 1 << 20
_WHITESPACE = re.compile(r"[ \t\r\n]*")
_TOKEN_CHARS = 16  # longer than any token a chunk boundary can cut (true, -1.5e+10, \\uXXXX)


def _depth_above(value: Any, limit: int) -> bool:
    """Whether ``value`` nests more than ``limit`` objects/arrays (iterative: no recursion)."""
    stack = [(value, 1)]
    while stack:
        item, depth = stack.pop()
        if depth > limit:
            return True
        children = item.values() if isinstance(item, dict) else item
        stack.extend((c, depth + 1) for c in children if isinstance(c, (dict, list)))
    return False


class _ValueStream:
    """Cuts JSON values out of a text stream, array or sequence form; yields (value, characters)."""

    def __init__(self, text: io.TextIOBase, key: str, limits: Limits) -> None:
        self._text = text
        self._key = key
        self._limits = limits
        self._buf = ""
        self._pos = 0
        self._eof = False
        self._consumed = 0  # characters dropped from the front of the buffer
        self._decoder = json.JSONDecoder()

    def _fill(self, at_least: int = READ_CHARS) -> bool:
        if self._eof:
            return False
        chunk = self._text.read(at_least)
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
            self._pos = _WHITESPACE.match(self._buf, self._pos).end()  # type: ignore[union-attr]
            if self._pos < len(self._buf) or not self._fill():
                return self._buf[self._pos : self._pos + 1]

    def _fail(self, what: str, reason: str = reasons.PARSE_ERROR) -> PermanentError:
        offset = self._consumed + self._pos
        return PermanentError(f"{self._key}: {what} at character {offset}", reason=reason)

    def _decode(self) -> tuple[Any, int] | None:
        """One ``raw_decode`` at the current position; None if the value may go on past the buffer."""
        try:
            value, end = self._decoder.raw_decode(self._buf, self._pos)
        except json.JSONDecodeError as exc:
            # Only an error at the end of the buffer (or in a string that runs
            # into it) may be a value cut by the buffer; any other is real now.
            cut = exc.msg.startswith("Unterminated string") or exc.pos >= len(self._buf) - _TOKEN_CHARS
            if self._eof or not cut:
                raise self._fail(f"invalid or truncated JSON ({exc.msg})") from exc
            return None
        except RecursionError as exc:
            raise self._fail(f"a value nested deeper than {self._limits.max_depth} levels",
                             reasons.SCHEMA_LIMIT) from exc
        if end > len(self._buf) - _TOKEN_CHARS and not self._eof:
            return None  # a number near the end of the buffer (1.5|e3) may go on in the next chunk
        return value, end

    def _value(self) -> tuple[Any, int]:
        if not self._peek():
            raise self._fail("unexpected end of file (truncated?)")
        limit = self._limits.max_record_bytes
        while True:
            decoded = self._decode()
            if decoded is not None:
                break
            pending = len(self._buf) - self._pos
            if pending > limit:
                raise self._fail(f"a JSON value longer than {limit} characters", reasons.RECORD_TOO_LARGE)
            # Read as much again as the value already spans: O(log n) attempts for n characters.
            if not self._fill(max(READ_CHARS, min(pending, limit + 1 - pending))):
                decoded = self._decode()  # end of file: decode now raises or succeeds
                assert decoded is not None
                break
        value, end = decoded
        size = end - self._pos
        if size > limit:
            raise self._fail(f"a JSON value longer than {limit} characters", reasons.RECORD_TOO_LARGE)
        if isinstance(value, (dict, list)) and self._may_nest_too_deep(end) and \
                _depth_above(value, self._limits.max_depth):
            raise self._fail(f"a value nested deeper than {self._limits.max_depth} levels", reasons.SCHEMA_LIMIT)
        self._pos = end
        return value, size

    def _may_nest_too_deep(self, end: int) -> bool:
        """Cheap pre-check (C-speed counts): fewer brackets than the limit cannot nest deeper."""
        limit = self._limits.max_depth
        return self._buf.count("{", self._pos, end) + self._buf.count("[", self._pos, end) > limit

    def __iter__(self) -> Iterator[tuple[Any, int]]:
        first = self._peek()
        if not first:
            raise PermanentError(f"{self._key} has no content (nothing but whitespace)", reason=reasons.EMPTY_FILE)
        if first == "[":
            self._pos += 1
            yield from self._array()
            if self._peek():
                raise self._fail("unexpected data after the closing ]")
            return
        while self._peek():
            yield self._value()

    def _array(self) -> Iterator[tuple[Any, int]]:
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


def parse_json(open_stream: Opener, spec: DatasetSpec, key: str) -> Iterator[Records]:
    """Yield batches of up to ``BATCH_RECORDS`` values and about ``BATCH_CHARS`` characters.

    A BOM is tolerated. ``[]`` is a file with no records; an empty file is ``empty_file``.
    """
    encoding = "utf-8-sig" if spec.options.encoding.lower() in ("utf-8", "utf8") else spec.options.encoding
    with open_stream() as stream, io.TextIOWrapper(stream, encoding=encoding) as text:  # type: ignore[arg-type]
        batch: list[Any] = []
        chars = 0
        for value, size in _ValueStream(text, key, spec.limits):
            batch.append(value)
            chars += size
            if len(batch) >= BATCH_RECORDS or chars >= BATCH_CHARS:
                yield Records(batch)
                batch, chars = [], 0
        if batch:
            yield Records(batch)
