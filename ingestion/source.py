"""What the ingestion layer is asked to load: one object, identified by key and etag."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import BinaryIO


@dataclass(frozen=True)
class SourceObject:
    """One landed file.

    Attributes:
        key: the decoded object key, always starting with ``raw/`` (e.g.
            ``raw/ecoride/sales/sales_2024-01.csv``); in embedded mode the path
            relative to the landing folder, with ``/`` separators.
        etag: the S3 ETag (without quotes), or in embedded mode the file's
            SHA-256. ``(key, etag)`` is the ledger identity.
        size: bytes.
        open: opens a fresh binary stream of the content; may be called more
            than once (a retry re-reads the file), the caller closes it. It
            reads exactly the version ``etag`` names, or fails.
        verify: called once the content was read; raises ``PermanentError``
            (``object_missing``) if the bytes read were not that version (the
            local store hashes what it reads). None where ``open`` pins the version.
    """

    key: str
    etag: str
    size: int
    open: Callable[[], BinaryIO] = field(compare=False, repr=False)
    verify: Callable[[], None] | None = field(default=None, compare=False, repr=False)
