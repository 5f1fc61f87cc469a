"""Deterministic file writers and the per-dataset report that feeds the manifest.

Files are written as UTF-8 with ``newline=''``; gzip members carry no file
name and mtime 0, so the same rows always give the same bytes. Writers are
streaming: nothing holds a whole file in memory.
"""

from __future__ import annotations

import csv
import gzip
import hashlib
import io
import json
import logging
import shutil
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from types import TracebackType
from typing import IO, Any, cast

logger = logging.getLogger(__name__)

GZIP_LEVEL = 6


@dataclass(frozen=True)
class FileEntry:
    """One written file: its landing key, record count and content hash."""

    key: str
    records: int
    bytes: int
    sha256: str
    pages: int | None = None

    def as_dict(self) -> dict[str, Any]:
        """JSON form for the manifest."""
        out: dict[str, Any] = {"key": self.key, "records": self.records}
        if self.pages is not None:
            out["pages"] = self.pages
        out.update({"bytes": self.bytes, "sha256": self.sha256})
        return out


@dataclass
class DatasetReport:
    """What a dataset generator produced: files, dirt counts, violations."""

    name: str
    generated: int = 0
    files: list[FileEntry] = field(default_factory=list)
    dirt: dict[str, int] = field(default_factory=dict)
    shape: dict[str, int] = field(default_factory=dict)
    violations: dict[str, int] = field(default_factory=dict)
    extra: dict[str, Any] = field(default_factory=dict)

    @property
    def records(self) -> int:
        """Records across all files, injected copies and re-sent files included."""
        return sum(f.records for f in self.files)

    def bump(self, bucket: dict[str, int], key: str, by: int = 1) -> None:
        """Increase a write-time counter."""
        bucket[key] = bucket.get(key, 0) + by


def file_digest(path: Path) -> tuple[int, str]:
    """Size and SHA-256 of a file, read in chunks."""
    digest = hashlib.sha256()
    size = 0
    with path.open("rb") as handle:
        while chunk := handle.read(1 << 20):
            digest.update(chunk)
            size += len(chunk)
    return size, digest.hexdigest()


class Output:
    """Root of the landing layout; disabled outputs swallow what is written.

    A disabled output lets a dataset be generated for its side effects (the
    sold-vehicle index that sessions need) without writing its files.
    """

    def __init__(self, root: Path, enabled: bool = True) -> None:
        self.root = root
        self.enabled = enabled

    def path(self, key: str) -> Path:
        """Local path of a landing key, parents created."""
        path = self.root / key
        path.parent.mkdir(parents=True, exist_ok=True)
        return path

    def entry(self, key: str, records: int, pages: int | None = None) -> FileEntry:
        """Hash a written file into a manifest entry."""
        size, sha = file_digest(self.root / key)
        logger.debug("wrote %s records=%d bytes=%d", key, records, size)
        return FileEntry(key, records, size, sha, pages)

    def copy(self, key: str, new_key: str, records: int) -> FileEntry | None:
        """Byte-identical copy of a written file under another key (a re-sent file)."""
        if not self.enabled:
            return None
        shutil.copyfile(self.root / key, self.path(new_key))
        return self.entry(new_key, records)


class RecordFile:
    """A streaming CSV, JSON Lines or JSON array file chosen by the key's suffix.

    ``.csv`` needs ``columns``; ``.jsonl`` writes one compact object per line;
    ``.json`` writes an array with one object per line; ``.gz`` gzips any of them.
    """

    def __init__(self, output: Output, key: str, columns: Sequence[str] | None = None) -> None:
        self.output = output
        self.key = key
        self.records = 0
        self._columns = columns
        self._stream: IO[str] | None = None
        self._raw: IO[bytes] | None = None
        self._csv: Any = None
        self._kind = _kind_of(key)

    def __enter__(self) -> RecordFile:
        if self.output.enabled:
            self._open()
        return self

    def _open(self) -> None:
        raw: IO[bytes] = self.output.path(self.key).open("wb")
        self._raw = raw
        binary: IO[bytes] = raw
        if self.key.endswith(".gz"):
            gz = gzip.GzipFile(filename="", mode="wb", fileobj=raw, mtime=0, compresslevel=GZIP_LEVEL)
            binary = cast(IO[bytes], gz)
        self._stream = io.TextIOWrapper(binary, encoding="utf-8", newline="", write_through=False)
        if self._kind == "csv":
            self._csv = csv.writer(self._stream, lineterminator="\n")
            self._csv.writerow(self._columns)
        elif self._kind == "json":
            self._stream.write("[")

    def write(self, record: Sequence[str] | dict[str, Any]) -> None:
        """Append one row (a sequence for CSV) or object (a dict for JSON)."""
        self.records += 1
        if self._stream is None:
            return
        if self._kind == "csv":
            self._csv.writerow(record)
            return
        text = json.dumps(record, ensure_ascii=False, separators=(",", ":"))
        if self._kind == "jsonl":
            self._stream.write(text + "\n")
        else:
            self._stream.write(("\n" if self.records == 1 else ",\n") + text)

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        if self._stream is None:
            return
        if self._kind == "json":
            self._stream.write("\n]\n")
        self._stream.close()  # closes the gzip member and the raw file too
        if self._raw is not None and not self._raw.closed:
            self._raw.close()
        if self.records == 0:
            # A period without records (tiny scales) lands no file rather than an empty one.
            (self.output.root / self.key).unlink()

    def entry(self) -> FileEntry | None:
        """Manifest entry of the closed file; None when disabled or nothing was written."""
        if not self.output.enabled or self.records == 0:
            return None
        return self.output.entry(self.key, self.records)


def _kind_of(key: str) -> str:
    name = key.removesuffix(".gz")
    for suffix, kind in ((".csv", "csv"), (".jsonl", "jsonl"), (".json", "json")):
        if name.endswith(suffix):
            return kind
    raise ValueError(f"unsupported file type for {key!r}: use .csv, .json or .jsonl (optionally .gz)")


def add_entry(report: DatasetReport, entry: FileEntry | None) -> None:
    """Record a file in the report when it was written."""
    if entry is not None:
        report.files.append(entry)
