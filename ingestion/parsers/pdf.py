"""PDF: one record per page (doc_type, doc_name, model_id, page_number, text).

``doc_type`` is the folder under ``raw/docs/``; ``doc_name`` the file name
without ``.pdf``; ``model_id`` the first group of the spec's
``model_id_pattern`` found in the file name (spec sheets are named after
their model), else null.

pypdf needs a seekable file, so the object is spooled: in memory up to
``SPOOL_BYTES``, on local disk beyond, never unbounded in RAM. Pages are
extracted one at a time and yielded in small batches.
"""

from __future__ import annotations

import re
import shutil
import tempfile
from collections.abc import Iterator
from pathlib import PurePosixPath
from typing import Any, BinaryIO

from pypdf import PdfReader
from pypdf.errors import PyPdfError

from lakehouse import reasons
from lakehouse.errors import PermanentError
from ingestion.parsers import Opener, Records
from ingestion.specs import DatasetSpec

SPOOL_BYTES = 16 << 20
PAGES_PER_BATCH = 50


def document_fields(key: str, spec: DatasetSpec) -> dict[str, Any]:
    """The per-document columns, derived from the key alone."""
    parts = PurePosixPath(key).parts  # ("raw", "docs", "<doc_type>", ..., "<name>.pdf")
    doc_type = parts[2] if len(parts) > 3 and parts[1] == "docs" else None
    doc_name = PurePosixPath(key).name
    doc_name = doc_name[: -len(".pdf")] if doc_name.lower().endswith(".pdf") else doc_name
    model_id = None
    if spec.options.model_id_pattern:
        match = re.search(spec.options.model_id_pattern, doc_name, flags=re.IGNORECASE)
        model_id = match.group(1).upper() if match else None
    return {"doc_type": doc_type, "doc_name": doc_name, "model_id": model_id}


def _spool(open_stream: Opener, spool: BinaryIO, key: str) -> None:
    with open_stream() as stream:
        shutil.copyfileobj(stream, spool, 1 << 20)
    spool.seek(0)
    if not spool.read(1 << 10).strip():
        spool.seek(0, 2)
        if spool.tell() <= 1 << 10:
            raise PermanentError(f"{key} has no content", reason=reasons.EMPTY_FILE)
    spool.seek(0)


def parse_pdf(open_stream: Opener, spec: DatasetSpec, key: str) -> Iterator[Records]:
    """Yield page records; an unreadable PDF is a ``parse_error``, a 0-byte one ``empty_file``."""
    fields = document_fields(key, spec)
    with tempfile.SpooledTemporaryFile(max_size=SPOOL_BYTES) as spool:
        _spool(open_stream, spool, key)  # type: ignore[arg-type]
        try:
            reader = PdfReader(spool)
            batch: list[Any] = []
            for number, page in enumerate(reader.pages, start=1):
                batch.append({**fields, "page_number": number, "text": page.extract_text() or ""})
                if len(batch) >= PAGES_PER_BATCH:
                    yield Records(batch)
                    batch = []
        except (PyPdfError, KeyError, TypeError, AttributeError, IndexError, ValueError, RecursionError,
                ZeroDivisionError, OverflowError, AssertionError) as exc:
            # pypdf reports some corrupt structures as plain Python errors.
            raise PermanentError(f"{key} is not a readable PDF: {type(exc).__name__}: {exc}",
                                 reason=reasons.PARSE_ERROR) from exc
    if batch:
        yield Records(batch)
